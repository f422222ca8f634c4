"""Audit entries are made the only way the application makes them: through ``record()``."""

from __future__ import annotations

from typing import Any

import factory

from ecabinet.audit.actions import record
from ecabinet.audit.models import AuditEntry


class AuditEntryFactory(factory.Factory):
    class Meta:
        model = AuditEntry

    event = "test.thing.happened"
    object_type = "test.thing"
    object_id = factory.Sequence(lambda n: str(n))
    source_ip = "192.0.2.10"
    details = factory.LazyAttributeSequence(lambda o, n: {"n": n, "note": "Biên bản họp"})
    actor = None

    @classmethod
    def _create(cls, model_class: type[AuditEntry], *args: Any, **kwargs: Any) -> AuditEntry:
        return record(kwargs.pop("event"), **kwargs)

    @classmethod
    def _build(cls, model_class: type[AuditEntry], *args: Any, **kwargs: Any) -> AuditEntry:
        raise TypeError("audit entries only exist once recorded; use create()")
