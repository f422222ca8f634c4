"""``ecabinet-sign`` against a live server: token, key in PKCS#12, CSR, approval, fetch, sign."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from ecabinet.conftest import fresh_code
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import PASSWORD
from ecabinet.pki import actions, client
from ecabinet.pki.core import cms
from ecabinet.pki.models import EnrolmentRequest
from ecabinet.pki.tests.test_cms_openssl import openssl_verify

pytestmark = pytest.mark.django_db(transaction=True)


def test_ecabinet_sign_end_to_end(installation_ca, make_user, live_server, tmp_path, monkeypatch, capsys):
    member = make_user(Role.MEMBER, full_name="Hoàng Văn Nam")
    monkeypatch.setenv(client.PASSPHRASE_ENV, "member's own passphrase")
    monkeypatch.setenv("ECABINET_PASSWORD", PASSWORD)
    client.main(["token", "--server", live_server.url, "--username", member.username, "--totp", fresh_code(member), "--device-name", "Laptop"])
    token = capsys.readouterr().out.strip()
    assert token.startswith("ecab_")
    monkeypatch.setenv(client.TOKEN_ENV, token)
    p12 = tmp_path / "member.p12"
    client.main(["keygen", "--p12", str(p12)])
    assert p12.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12.read_bytes(), b"wrong")
    capsys.readouterr()
    client.main(["enrol", "--server", live_server.url, "--p12", str(p12), "--device-label", "Laptop"])
    request_id = int(capsys.readouterr().out.split('"request": ')[1].split(",")[0])
    request = EnrolmentRequest.objects.get(pk=request_id)
    assert request.user == member and request.source == "client" and request.state == "pending"
    with pytest.raises(SystemExit) as exited:
        client.main(["fetch", "--server", live_server.url, "--p12", str(p12), "--request", str(request_id)])
    assert exited.value.code == 2
    actions.approve_enrolment(request, acting_user=make_user(Role.SECRETARY), source_ip=None)
    client.main(["fetch", "--server", live_server.url, "--p12", str(p12), "--request", str(request_id)])
    key, cert, chain = client.load_p12(p12, b"member's own passphrase")
    assert cert is not None and cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert chain == [installation_ca.issuing, installation_ca.root]
    # Sign a ballot with the file key and check the evidence with openssl.
    ballot = tmp_path / "ballot.json"
    ballot.write_bytes(b'{"choice":"reject","poll":3}')
    client.main(["sign", "--p12", str(p12), "--in", str(ballot), "--out", str(tmp_path / "ballot.sig")])
    p7s = cms.detached_signed_data(ballot.read_bytes(), (tmp_path / "ballot.sig").read_bytes(), cert, extra_certificates=[installation_ca.issuing])
    folder = tmp_path / "evidence"
    folder.mkdir()
    assert openssl_verify(folder, p7s, ballot.read_bytes(), installation_ca.chain_pem).returncode == 0


def test_ecabinet_sign_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(client.PASSPHRASE_ENV, "x")
    monkeypatch.delenv(client.TOKEN_ENV, raising=False)
    p12 = tmp_path / "k.p12"
    client.main(["keygen", "--p12", str(p12)])
    for argv, message in [
        (["keygen", "--p12", str(p12)], "refusing to overwrite"),
        (["enrol", "--server", "http://127.0.0.1:9", "--p12", str(p12), "--device-label", "x"], "device token is required"),
        (["enrol", "--server", "ftp://x", "--token", "t", "--p12", str(p12), "--device-label", "x"], "http(s) URL"),
        (["enrol", "--server", "http://127.0.0.1:9", "--token", "t", "--p12", str(p12), "--device-label", "x"], "cannot reach"),
    ]:
        with pytest.raises(SystemExit) as exited:
            client.main(argv)
        assert exited.value.code == 1
        assert message in capsys.readouterr().err
    monkeypatch.setenv(client.PASSPHRASE_ENV, "wrong")
    with pytest.raises(SystemExit):
        client.main(["sign", "--p12", str(p12), "--in", str(p12), "--out", str(tmp_path / "s")])
    assert "passphrase does not open" in capsys.readouterr().err


def test_console_script_is_installed():
    result = subprocess.run(["ecabinet-sign", "--help"], capture_output=True, text=True, check=False, env={"PATH": str(__import__("sys").prefix) + "/bin"})
    assert result.returncode == 0 and "PKCS#12" in result.stdout
