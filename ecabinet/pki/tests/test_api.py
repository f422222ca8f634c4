"""The PKI API: enrolment, approval, revocation, CRL, CA info — with anonymous, wrong-role and
other-government callers, and bad input that stores nothing but an audit entry."""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity import actions as identity_actions
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import GovernmentFactory
from ecabinet.identity.tests.test_api_auth import assert_problem, bearer, get_token
from ecabinet.pki import authority, events
from ecabinet.pki.models import EnrolmentRequest, MemberCertificate
from ecabinet.pki.tests.factories import csr_pem, new_member_key

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: object, **extra: str):
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


def token_of(user) -> dict[str, str]:
    # One device token per user: each sign-in spends a TOTP step, and steps cannot run ahead far.
    if not hasattr(user, "_pki_token"):
        user._pki_token = get_token(user)["token"]
    return bearer(user._pki_token)


def enrol(user, key=None, label="iPad Pro"):
    key = key or new_member_key()
    response = post(Client(), "/api/v1/pki/requests", {"csr": csr_pem(key), "device_label": label, "source": "client"}, **token_of(user))
    return key, response


def test_member_enrols_and_secretary_approves(installation_ca, make_user):
    member = make_user(Role.MEMBER, full_name="Lê Văn Minh")
    secretary = make_user(Role.SECRETARY)
    key, response = enrol(member)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending" and body["certificate"] is None and body["user"]["id"] == member.pk
    approved = post(Client(), f"/api/v1/pki/requests/{body['id']}/approve", {}, **token_of(secretary))
    assert approved.status_code == 200, approved.content
    cert_out = approved.json()["certificate"]
    cert = x509.load_pem_x509_certificate(cert_out["certificate_pem"].encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == "Lê Văn Minh"
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.USER_ID)[0].value == str(member.pk)
    assert cert.issuer == installation_ca.issuing.subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 730
    assert authority.check_member_certificate(cert).user == member
    assert AuditEntry.objects.filter(event=events.ENROLMENT_REQUESTED, actor=member).count() == 1
    assert AuditEntry.objects.filter(event=events.ENROLMENT_APPROVED, actor=secretary).count() == 1
    # The member polls their request and sees the certificate.
    mine = Client().get(f"/api/v1/pki/requests/{body['id']}", **token_of(member))
    assert mine.json()["certificate"]["fingerprint"] == cert_out["fingerprint"]


def test_a_member_may_have_several_devices(installation_ca, make_user, enrolled):
    member = make_user(Role.MEMBER)
    enrolled(member, label="Tablet")
    enrolled(member, label="Laptop")
    listed = Client().get("/api/v1/pki/certificates?mine=true", **token_of(member)).json()
    assert sorted(c["device_label"] for c in listed) == ["Laptop", "Tablet"]
    assert len({c["fingerprint"] for c in listed}) == 2


def test_anonymous_and_guest_cannot_enrol(installation_ca, make_user):
    assert_problem(post(Client(), "/api/v1/pki/requests", {"csr": csr_pem(new_member_key()), "device_label": "x"}), 401, "not_authenticated")
    assert_problem(Client().get("/api/v1/pki/requests"), 401, "not_authenticated")
    assert_problem(Client().get("/api/v1/pki/certificates"), 401, "not_authenticated")
    guest = make_user(Role.GUEST)
    _, response = enrol(guest)
    assert_problem(response, 403, "forbidden")
    assert not EnrolmentRequest.objects.exists()


@pytest.mark.parametrize(
    ("csr", "status", "code"),
    [
        ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", 400, "csr_malformed"),
        ("hello", 400, "csr_malformed"),
        ("P-384", 422, "csr_wrong_key"),
        ("RSA", 422, "csr_wrong_key"),
    ],
)
def test_bad_csrs_are_refused_and_audited(installation_ca, make_user, csr, status, code):
    member = make_user(Role.MEMBER)
    if csr == "P-384":
        csr = csr_pem(ec.generate_private_key(ec.SECP384R1()))
    elif csr == "RSA":
        csr = csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    response = post(Client(), "/api/v1/pki/requests", {"csr": csr, "device_label": "x"}, **token_of(member))
    assert_problem(response, status, code)
    assert not EnrolmentRequest.objects.exists()
    refused = AuditEntry.objects.get(event=events.ENROLMENT_REFUSED)
    assert refused.actor_id == member.pk and refused.details["code"] == code


def test_csr_with_a_signature_that_does_not_verify(installation_ca, make_user):
    from ecabinet.pki.tests.test_core import CORE  # noqa: F401 - same package, keeps helpers in one place

    member = make_user(Role.MEMBER)
    key, other = new_member_key(), new_member_key()
    pem = csr_pem(key)
    request = x509.load_pem_x509_csr(pem.encode())
    from cryptography.hazmat.primitives import serialization

    der = bytearray(request.public_bytes(serialization.Encoding.DER))
    old = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    new = other.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    der[der.index(old) : der.index(old) + len(old)] = new
    import base64

    forged = "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)).decode() + "-----END CERTIFICATE REQUEST-----\n"
    response = post(Client(), "/api/v1/pki/requests", {"csr": forged, "device_label": "x"}, **token_of(member))
    assert_problem(response, 422, "csr_bad_signature")
    assert not EnrolmentRequest.objects.exists()


def test_unknown_fields_and_duplicate_keys(installation_ca, make_user):
    member = make_user(Role.MEMBER)
    key = new_member_key()
    response = post(Client(), "/api/v1/pki/requests", {"csr": csr_pem(key), "device_label": "x", "private_key": "nope"}, **token_of(member))
    assert_problem(response, 422, "validation_error")
    assert enrol(member, key)[1].status_code == 201
    assert_problem(enrol(member, key)[1], 409, "key_already_enrolled")
    assert EnrolmentRequest.objects.count() == 1


def test_approval_needs_a_secretary_or_admin_of_the_same_government(installation_ca, make_user):
    member = make_user(Role.MEMBER)
    _, response = enrol(member)
    request_id = response.json()["id"]
    other_member = make_user(Role.MEMBER)
    # A member may not approve at all (role check, reveals nothing about the request).
    assert_problem(post(Client(), f"/api/v1/pki/requests/{request_id}/approve", {}, **token_of(other_member)), 403, "forbidden")
    assert_problem(post(Client(), f"/api/v1/pki/requests/{request_id}/approve", {}, **token_of(member)), 403, "forbidden")
    # A secretary of another government does not see the request.
    foreign_secretary = make_user(Role.SECRETARY, organisation=GovernmentFactory())
    assert_problem(post(Client(), f"/api/v1/pki/requests/{request_id}/approve", {}, **token_of(foreign_secretary)), 404, "not_found")
    assert_problem(Client().get(f"/api/v1/pki/requests/{request_id}", **token_of(foreign_secretary)), 404, "not_found")
    assert_problem(Client().get(f"/api/v1/pki/requests/{request_id}", **token_of(other_member)), 404, "not_found")
    assert Client().get("/api/v1/pki/requests", **token_of(foreign_secretary)).json() == []
    # Nobody approves their own key.
    secretary = make_user(Role.SECRETARY)
    _, own = enrol(secretary)
    assert_problem(post(Client(), f"/api/v1/pki/requests/{own.json()['id']}/approve", {}, **token_of(secretary)), 403, "forbidden")
    assert not MemberCertificate.objects.exists()
    admin = make_user(Role.ADMIN)
    assert post(Client(), f"/api/v1/pki/requests/{request_id}/approve", {}, **token_of(admin)).status_code == 200
    assert_problem(post(Client(), f"/api/v1/pki/requests/{request_id}/approve", {}, **token_of(admin)), 409, "request_not_pending")
    assert MemberCertificate.objects.count() == 1


def test_reject(installation_ca, make_user):
    member, secretary = make_user(Role.MEMBER), make_user(Role.SECRETARY)
    _, response = enrol(member)
    rejected = post(Client(), f"/api/v1/pki/requests/{response.json()['id']}/reject", {"reason": "wrong device name"}, **token_of(secretary))
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected" and rejected.json()["rejection_reason"] == "wrong device name"
    assert AuditEntry.objects.filter(event=events.ENROLMENT_REJECTED, actor=secretary).count() == 1
    assert not MemberCertificate.objects.exists()


def test_owner_revokes_at_once_and_the_crl_lists_it(installation_ca, make_user, enrolled):
    member = make_user(Role.MEMBER)
    _, cert = enrolled(member)
    before = Client().get("/pki/crl")
    assert before.status_code == 200 and before["Content-Type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(before.content).get_revoked_certificate_by_serial_number(int(cert.serial, 16)) is None
    response = post(Client(), f"/api/v1/pki/certificates/{cert.pk}/revoke", {"reason": "key_compromise"}, **token_of(member))
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "revoked" and response.json()["revocation_reason"] == "key_compromise"
    crl = x509.load_der_x509_crl(Client().get("/pki/crl").content)
    assert crl.is_signature_valid(installation_ca.issuing.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert entry is not None and entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert AuditEntry.objects.get(event=events.CERTIFICATE_REVOKED).details["crl_number"] == 2
    assert_problem(post(Client(), f"/api/v1/pki/certificates/{cert.pk}/revoke", {}, **token_of(member)), 409, "certificate_already_revoked")
    from ecabinet.errors import ECabinetError

    with pytest.raises(ECabinetError) as caught:
        authority.check_member_certificate(x509.load_pem_x509_certificate(cert.certificate_pem.encode()))
    assert caught.value.code == "certificate_revoked"


def test_who_may_revoke(installation_ca, make_user, enrolled):
    owner = make_user(Role.MEMBER)
    _, cert = enrolled(owner)
    path = f"/api/v1/pki/certificates/{cert.pk}/revoke"
    assert_problem(post(Client(), path, {}), 401, "not_authenticated")
    assert_problem(post(Client(), path, {}, **token_of(make_user(Role.MEMBER))), 404, "not_found")
    assert_problem(post(Client(), path, {}, **token_of(make_user(Role.CHAIR))), 404, "not_found")
    assert_problem(post(Client(), path, {}, **token_of(make_user(Role.SECRETARY))), 403, "forbidden")
    assert_problem(post(Client(), path, {}, **token_of(make_user(Role.ADMIN, organisation=GovernmentFactory()))), 404, "not_found")
    assert_problem(post(Client(), path, {"reason": "bored"}, **token_of(owner)), 422, "validation_error")
    cert.refresh_from_db()
    assert cert.revoked_at is None
    officer = make_user(Role.SECURITY_OFFICER)
    assert post(Client(), path, {"reason": "affiliation_changed"}, **token_of(officer)).status_code == 200
    _, second = enrolled(owner)
    assert post(Client(), f"/api/v1/pki/certificates/{second.pk}/revoke", {}, **token_of(make_user(Role.ADMIN))).status_code == 200


def test_visibility_of_certificates(installation_ca, make_user, enrolled):
    a, b = make_user(Role.MEMBER), make_user(Role.MEMBER)
    _, cert_a = enrolled(a)
    enrolled(b)
    assert [c["id"] for c in Client().get("/api/v1/pki/certificates", **token_of(a)).json()] == [cert_a.pk]
    assert_problem(Client().get(f"/api/v1/pki/certificates/{cert_a.pk}", **token_of(b)), 404, "not_found")
    assert len(Client().get("/api/v1/pki/certificates", **token_of(make_user(Role.SECRETARY))).json()) == 2
    assert Client().get("/api/v1/pki/certificates", **token_of(make_user(Role.SECRETARY, organisation=GovernmentFactory()))).json() == []


def test_disabling_a_user_revokes_their_certificates(installation_ca, make_user, enrolled):
    member, admin = make_user(Role.MEMBER), make_user(Role.ADMIN)
    _, first = enrolled(member)
    _, second = enrolled(member)
    pending_key = new_member_key()
    from ecabinet.pki import actions

    pending = actions.request_enrolment(member, csr=csr_pem(pending_key), device_label="x", source="client", acting_user=member, source_ip=None)
    identity_actions.disable_user(member, acting_user=admin, source_ip="10.0.0.1")
    for cert in (first, second):
        cert.refresh_from_db()
        assert cert.revoked_at is not None and cert.revocation_reason == "affiliation_changed" and cert.revoked_by == admin
    pending.refresh_from_db()
    assert pending.state == "rejected"
    crl = x509.load_der_x509_crl(Client().get("/pki/crl").content)
    assert {int(first.serial, 16), int(second.serial, 16)} <= {e.serial_number for e in crl}
    assert AuditEntry.objects.filter(event=events.CERTIFICATE_REVOKED, actor=admin).count() == 2


def test_ca_endpoint_and_public_files_are_public(installation_ca, client):
    info = client.get("/api/v1/pki/ca").json()
    assert info["mode"] == "local" and info["crl_url"] == "http://testserver/pki/crl" and info["crl_number"] >= 1
    chain = x509.load_pem_x509_certificates(info["chain_pem"].encode())
    assert chain == [installation_ca.issuing, installation_ca.root]
    assert {a["kind"] for a in info["authorities"]} == {"root", "issuing"}
    cer = client.get("/pki/ca.cer")
    assert cer["Content-Type"] == "application/pkix-cert" and x509.load_der_x509_certificate(cer.content) == installation_ca.issuing
    assert x509.load_pem_x509_certificates(client.get("/pki/ca.pem").content) == chain
    root_crl = x509.load_der_x509_crl(client.get("/pki/root.crl").content)
    assert root_crl.is_signature_valid(installation_ca.root.public_key())


def test_uninitialised_installation(db, pki_settings, make_user, client):
    assert client.get("/api/v1/pki/ca").json()["mode"] == "uninitialised"
    assert client.get("/pki/crl").status_code == 404
    _, response = enrol(make_user(Role.MEMBER))
    assert_problem(response, 409, "pki_not_initialised")
