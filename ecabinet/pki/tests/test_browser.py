"""A member enrols the tablet in Chromium: WebCrypto key, CSR built in the page, approval, certificate shown.

The private key is made non-extractable in the browser; the test checks that the issued
certificate holds the browser's public key and that the enrolment request carried nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ecabinet.conftest import fresh_code
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import PASSWORD
from ecabinet.pki import actions
from ecabinet.pki.core import ca
from ecabinet.pki.models import EnrolmentRequest, MemberCertificate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "chromium is missing: run `make sysdeps`"
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}, locale="en-GB")
            yield context.new_page()
        finally:
            browser.close()


def sign_in(page, user) -> None:
    page.goto("/login/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(re.compile(r"/login/code/$"))
    user.refresh_from_db()
    page.locator("input[name=code]").fill(fresh_code(user))
    page.locator("input[name=code]").press("Enter")
    page.wait_for_url(re.compile(r"/$"))


BROWSER_SPKI = """async () => {
  const db = await new Promise((ok, ko) => { const r = indexedDB.open("ecabinet-keys", 1); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const keys = await new Promise((ok) => { const r = db.transaction("keys").objectStore("keys").getAll(); r.onsuccess = () => ok(r.result); });
  const k = keys[0];
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", k.publicKey));
  let exported = "exported";
  try { await crypto.subtle.exportKey("pkcs8", k.privateKey); } catch (e) { exported = e.name; }
  return { count: keys.length, spki: btoa(String.fromCharCode(...spki)),
           extractable: k.privateKey.extractable, exportAttempt: exported, usages: k.privateKey.usages };
}"""


def test_member_enrols_tablet_in_browser(page, installation_ca, make_user):
    member = make_user(Role.MEMBER, full_name="Đỗ Quốc Hùng")
    sign_in(page, member)
    sent: list[dict] = []
    page.on("request", lambda r: sent.append({"url": r.url, "method": r.method, "body": r.post_data}) if "/api/v1/pki/" in r.url else None)
    page.goto("/pki/")
    page.locator("#device-label").fill("iPad phòng họp Chính phủ")
    page.locator("#enrol-button").click()
    page.locator("#requests-table tr[data-state=pending]").wait_for(timeout=20000)

    request = EnrolmentRequest.objects.get(user=member)
    assert request.source == "browser" and request.device_label == "iPad phòng họp Chính phủ"
    browser_key = page.evaluate(BROWSER_SPKI)
    assert browser_key["count"] == 1 and browser_key["extractable"] is False
    assert browser_key["exportAttempt"] == "InvalidAccessError" and browser_key["usages"] == ["sign"]
    spki_der = base64.b64decode(browser_key["spki"])

    # What went over the wire: a CSR for exactly that public key, a label, and nothing else.
    [post] = [r for r in sent if r["method"] == "POST"]
    body = json.loads(post["body"])
    assert set(body) == {"csr", "device_label", "source"}
    assert "PRIVATE" not in post["body"] and '"d"' not in post["body"]
    csr = x509.load_pem_x509_csr(body["csr"].encode())
    assert csr.is_signature_valid
    assert csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki_der

    actions.approve_enrolment(request, acting_user=make_user(Role.SECRETARY), source_ip=None)
    page.reload()
    row = page.locator("#certificates-table tr[data-state=valid]")
    row.wait_for()
    certificate = MemberCertificate.objects.get(user=member)
    assert certificate.fingerprint in row.inner_text()
    assert row.locator(".this-device").is_visible()  # the page recognises this tablet's own key
    issued = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    assert ca.spki_der(issued.public_key()) == spki_der  # type: ignore[arg-type]

    # The stored key signs in the page (what a ballot will do) and the certificate verifies it.
    signature_b64 = page.evaluate(
        """async () => {
          const m = await import("/static/pki/enrol.js");
          const keys = await m.listKeys();
          const sig = await m.signWithDeviceKey(keys[0].spki_sha256, new TextEncoder().encode("ballot bytes"));
          return btoa(String.fromCharCode(...sig));
        }"""
    )
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    issued.public_key().verify(base64.b64decode(signature_b64), b"ballot bytes", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
