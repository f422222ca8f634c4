"""What a scan says about a file. Pure Python: the scanners and the pipeline share these types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLEAN = "clean"
INFECTED = "infected"  # a scanner named malicious content: quarantine
REFUSED = "refused"  # the file breaks a rule (type, size, archive limits, macros): quarantine
UNAVAILABLE = "unavailable"  # a configured scanner did not answer: hold, never accept


class Refused(Exception):
    """A file refused for a stated reason; ``code`` is stable, ``message`` is for the uploader."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class ScannerUnavailable(Exception):
    """A scanner that is configured could not give an answer (down, timed out, said ERROR)."""


@dataclass(frozen=True)
class Finding:
    engine: str  # "yara", "clamav", "archive", "office"
    name: str  # rule or signature name
    path: str = ""  # where inside the file (archive member path), empty for the file itself
    action: str = "block"  # "block": quarantine; "disarm": the disarm step must remove it
    reason: str = ""  # for blocking findings: the reason code the uploader is told

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "name": self.name, "path": self.path, "action": self.action, "reason": self.reason}


@dataclass
class Verdict:
    status: str
    kind: str = ""
    reason_code: str = ""
    message: str = ""
    findings: list[Finding] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)  # engine name -> version or rules fingerprint

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "block"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "reason_code": self.reason_code,
            "message": self.message,
            "findings": [f.as_dict() for f in self.findings],
            "engines": dict(self.engines),
        }
