from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from ecabinet.identity.schemas import Input

Reason = Literal["unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation"]


class EnrolIn(Input):
    csr: str = Field(min_length=1, max_length=8192, description="PKCS#10 request, PEM (or base64 DER), for an ECDSA P-256 key")
    device_label: str = Field(min_length=1, max_length=120)
    source: Literal["browser", "client"] = "browser"


class RejectIn(Input):
    reason: str = Field(default="", max_length=300)


class RevokeIn(Input):
    reason: Reason = "unspecified"


class ImportCertificateIn(Input):
    user_id: int
    certificate: str = Field(min_length=1, max_length=16384)
    device_label: str = Field(min_length=1, max_length=120)


class OwnerOut(Schema):
    id: int
    username: str
    full_name: str


class CertificateOut(Schema):
    id: int
    user: OwnerOut
    device_label: str
    serial: str
    fingerprint: str
    spki_sha256: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    imported: bool
    state: str
    revoked_at: datetime | None
    revocation_reason: str
    certificate_pem: str


class RequestOut(Schema):
    id: int
    user: OwnerOut
    device_label: str
    source: str
    spki_sha256: str
    state: str
    created_at: datetime
    decided_at: datetime | None
    rejection_reason: str
    certificate: CertificateOut | None


class AuthorityOut(Schema):
    kind: str
    subject: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    certificate_pem: str


class CaOut(Schema):
    mode: str
    authorities: list[AuthorityOut]
    chain_pem: str
    crl_url: str
    crl_number: int | None
    crl_next_update: datetime | None
