"""PKI test fixtures: a fresh installation CA per test, in its own key directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.identity.models import Role, User
from ecabinet.pki import actions, authority
from ecabinet.pki.models import Authority, MemberCertificate
from ecabinet.pki.tests.factories import csr_pem, new_member_key


@dataclass
class InstallationCa:
    root: x509.Certificate
    issuing: x509.Certificate
    tsa: x509.Certificate
    rows: dict[str, Authority]

    @property
    def chain_pem(self) -> str:
        return authority.chain_pem()


@pytest.fixture
def pki_settings(settings: Any, tmp_path: Any) -> Iterator[Any]:
    settings.KEY_DIR = tmp_path / "keys"
    settings.PKI_CA_PASSPHRASE = "test passphrase for the CA keys"
    settings.PKI_PUBLIC_URL = "http://testserver"
    authority.forget_signers()
    yield settings
    authority.forget_signers()


@pytest.fixture
def installation_ca(db: Any, pki_settings: Any) -> InstallationCa:
    rows = actions.init_authority(organisation="Chính phủ thử nghiệm")
    return InstallationCa(
        root=authority.certificate(rows["root"]),
        issuing=authority.certificate(rows["issuing"]),
        tsa=authority.certificate(rows["tsa"]),
        rows=rows,
    )


@pytest.fixture
def enrolled(installation_ca: InstallationCa, make_user: Callable[..., User]) -> Callable[..., tuple[ec.EllipticCurvePrivateKey, MemberCertificate]]:
    """Give a user a device key and an approved certificate, through the real actions."""

    def enrol(user: User, label: str = "iPad") -> tuple[ec.EllipticCurvePrivateKey, MemberCertificate]:
        key = new_member_key()
        request = actions.request_enrolment(user, csr=csr_pem(key), device_label=label, source="client", acting_user=user, source_ip=None)
        approver = make_user(Role.SECRETARY, organisation=user.organisation)
        return key, actions.approve_enrolment(request, acting_user=approver, source_ip=None)

    return enrol
