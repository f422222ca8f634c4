"""``ecabinet-sign`` (the desktop client, a key in a PKCS#12 file) against a real ``ecabinet serve``.

Everything runs as separate processes, as on a member's laptop: the installed console script
signs in for a device token, makes the key, sends the CSR, stores the certificate once the office
secretary has approved it (over the API, with her own token), and casts a signed ballot with the
one-time code. The receipt it prints is checked against a signed audit checkpoint, both by
``ecabinet-sign receipt --pubkey`` and by ``ecabinet audit proof`` / ``verify-proof``. Then the
refusals a member can meet, each a clear message with the server's problem code and exit status
1, and nothing recorded: a wrong passphrase, a second vote, a replayed ballot, a wrong code, a
revoked certificate, a closed poll, an unknown poll.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.pki import client
from ecabinet.voting.tests import live_site

PASSPHRASE = "cụm mật khẩu của Bộ trưởng"  # test data
UNUSED = "000000"  # a code for refusals that happen before the server sees it


def ecabinet_sign() -> str:
    return str(Path(sys.executable).with_name("ecabinet-sign"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live_site.Site]:
    with live_site.site(tmp_path_factory.mktemp("voting-sign"), "vote_sign") as running:
        yield running


class Laptop:
    """One member's computer: the console script with that member's environment."""

    def __init__(self, site: live_site.Site, person: str, folder: Path) -> None:
        self.site, self.person, self.folder = site, person, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.p12 = folder / "me.p12"
        # Nothing of the server's environment: the client has no Django, no database, no settings.
        self.env = {"PATH": os.environ["PATH"], "HOME": str(folder), "LANG": "C.UTF-8", client.PASSPHRASE_ENV: PASSPHRASE}

    def run(self, *args: str, passphrase: str | None = None, token: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if passphrase is not None:
            env[client.PASSPHRASE_ENV] = passphrase
        command = [ecabinet_sign(), args[0], *(["--server", self.site.url] if args[0] not in ("keygen", "sign") else []), *args[1:]]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def sign_in(self) -> str:
        self.env["ECABINET_PASSWORD"] = self.site.people["password"]
        token = self.ok(
            "token", "--username", self.site.people[self.person]["username"], "--totp", self.site.code(self.person), "--device-name", "Laptop"
        ).strip()
        assert token.startswith("ecab_"), token
        self.env[client.TOKEN_ENV] = token
        return token

    def vote(self, poll: int, choice: str, *extra: str, code: str | None = None, passphrase: str | None = None) -> subprocess.CompletedProcess[str]:
        """``ecabinet-sign vote`` with the next good code (each is good once), or ``code``."""
        code = code or self.site.code(self.person)
        return self.run("vote", "--p12", str(self.p12), "--poll", str(poll), "--choice", choice, "--totp", code, *extra, passphrase=passphrase)


def refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit status 1, one line on stderr beginning with the program's name, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("ecabinet-sign: ") and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


def api(site: live_site.Site, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{site.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return response


def enrolled_laptop(site: live_site.Site, person: str, folder: Path, secretary_token: str) -> Laptop:
    laptop = Laptop(site, person, folder)
    laptop.sign_in()
    assert "public key sha256" in laptop.ok("keygen", "--p12", str(laptop.p12))
    request = json.loads(laptop.ok("enrol", "--p12", str(laptop.p12), "--device-label", f"Laptop {person}"))
    assert request["state"] == "pending"
    pending = laptop.run("fetch", "--p12", str(laptop.p12), "--request", str(request["request"]))
    assert pending.returncode == 2 and json.loads(pending.stdout)["state"] == "pending"
    approved = api(site, secretary_token, "POST", f"/pki/requests/{request['request']}/approve")
    assert approved.status_code == 200, approved.text
    fetched = json.loads(laptop.ok("fetch", "--p12", str(laptop.p12), "--request", str(request["request"])))
    assert fetched["state"] == "approved"
    laptop.fingerprint = fetched["fingerprint"]  # type: ignore[attr-defined]
    return laptop


def test_ecabinet_sign_votes_against_a_live_server(site: live_site.Site, tmp_path: Path) -> None:
    staff = Laptop(site, "secretary", tmp_path / "secretary")
    secretary_token = staff.sign_in()
    chair = Laptop(site, "chair", tmp_path / "chair")
    chair_token = chair.sign_in()
    first, second, third = (enrolled_laptop(site, person, tmp_path / person, secretary_token) for person in ("member1", "member2", "member3"))
    vote = site.people["vote"]

    # Not open yet: the server says so, and the client passes its words on.
    refused(second.vote(vote, "approve"), "poll_not_open", "(409)")
    opened = api(site, chair_token, "POST", f"/polls/{vote}/open")
    assert opened.status_code == 200, opened.text

    # Refused on the laptop, before anything is sent (no code is spent): a wrong passphrase, an
    # option that is not on the ballot paper, no code and nobody at the keyboard to type it.
    refused(first.vote(vote, "approve", code=UNUSED, passphrase="not my passphrase"), "passphrase does not open")
    refused(first.vote(vote, "maybe", code=UNUSED), "'maybe' is not an option", "approve, reject, abstain")
    refused(first.run("vote", "--p12", str(first.p12), "--poll", str(vote), "--choice", "approve"), "--totp")
    # A code that is not the current one: the server's step-up refuses it.
    refused(second.vote(vote, "reject", code="000000"), "mfa_invalid", "(401)", "one-time code is wrong")

    # The vote: signed with the file's key, cast with the code; the receipt is printed and kept.
    keep = tmp_path / "kept"
    result = first.vote(vote, "approve", "--keep", str(keep))
    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["status"] == "pending_checkpoint" and len(receipt["ballot_sha256"]) == 64, receipt
    [signed] = [p for p in keep.glob("poll-*.json") if not p.name.endswith(".receipt.json")]
    data, signature = signed.read_bytes(), signed.with_suffix(".sig").read_bytes()
    ballot = json.loads(data)
    assert ballot["choice"] == "approve" and ballot["voter"] == site.people["member1"]["id"] and ballot["poll"] == vote
    assert hashes_hex(data) == receipt["ballot_sha256"]
    _, certificate, _ = client.load_p12(first.p12, PASSPHRASE.encode())
    assert certificate is not None
    certificate.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, arg-type]
    assert third.vote(vote, "reject").returncode == 0

    # The receipt, checked against a signed checkpoint by the client and by the server's own tools.
    pubkey = tmp_path / "audit.pem"
    pubkey.write_text(site.cli("audit", "pubkey").stdout)
    early = first.run("receipt", "--poll", str(vote), "--ballot", receipt["ballot_sha256"], "--pubkey", str(pubkey))
    assert early.returncode == 0 and json.loads(early.stdout) == receipt, early  # no checkpoint covers it yet ...
    assert "no signed checkpoint covers this ballot yet" in early.stderr  # ... and the member is told so
    site.cli("audit", "checkpoint")
    checked = json.loads(first.ok("receipt", "--poll", str(vote), "--ballot", receipt["ballot_sha256"], "--pubkey", str(pubkey)))
    assert checked["status"] == "included" and checked["checked"].startswith(f"entry #{receipt['audit_seq']} is in the signed log"), checked
    proof = tmp_path / "proof.json"
    site.cli("audit", "proof", str(receipt["audit_seq"]), "-o", str(proof))
    assert json.loads(json.loads(proof.read_text())["entry"])["details"]["ballot_sha256"] == receipt["ballot_sha256"]
    site.cli("audit", "verify-proof", str(proof), "--pubkey", str(pubkey))
    other_key = tmp_path / "other.pem"
    other_key.write_bytes(ec_public_pem())
    assert site.cli("audit", "verify-proof", str(proof), "--pubkey", str(other_key), check=False).returncode == 1
    forged = first.run("receipt", "--poll", str(vote), "--ballot", receipt["ballot_sha256"], "--pubkey", str(other_key))
    refused(forged, "does not hold against", "no signature by")

    # A second vote from the same member, and the very same signed ballot sent again. On a poll that
    # allows no change both refusals apply to the replay; which the server names first is its own
    # business (test_ballots pins ballot_replayed on a poll that allows changes).
    refused(first.vote(vote, "reject"), "already_voted", "(409)")
    replay = api(
        site,
        first.env[client.TOKEN_ENV],
        "POST",
        f"/polls/{vote}/ballots",
        {"ballot": data.decode(), "signature": base64.b64encode(signature).decode(), "totp": site.code("member1")},
    )
    assert replay.status_code == 409 and replay.json()["code"] in ("ballot_replayed", "already_voted"), replay.text

    # The second member's laptop is lost: the certificate is revoked, and its key can no longer vote.
    certificate_id = next(c["id"] for c in api(site, second.env[client.TOKEN_ENV], "GET", "/pki/certificates").json() if c["fingerprint"] == second.fingerprint)  # type: ignore[attr-defined]
    revoked = api(site, second.env[client.TOKEN_ENV], "POST", f"/pki/certificates/{certificate_id}/revoke", {"reason": "key_compromise"})
    assert revoked.status_code == 200, revoked.text
    message = refused(second.vote(vote, "reject"), "revoked")
    assert "(403)" in message or "(422)" in message or "(409)" in message, message

    # A poll that does not exist, and one that is closed.
    refused(third.vote(999_999, "approve", code=UNUSED), "poll_not_found", "(404)")
    closed = api(site, chair_token, "POST", f"/polls/{vote}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["result"]["tally"]["counts"] == {"approve": 1, "reject": 1, "abstain": 0}, closed.text
    refused(third.vote(vote, "approve"), "poll_not_open")
    # Only the two good ballots were counted: every refusal changed nothing.
    assert api(site, chair_token, "GET", f"/polls/{vote}/results").json()["cast"] == 2


def test_ecabinet_sign_reports_usage_errors_plainly(site: live_site.Site, tmp_path: Path) -> None:
    laptop = Laptop(site, "member1", tmp_path / "m")
    laptop.env.pop(client.TOKEN_ENV, None)
    refused(laptop.run("vote", "--p12", str(laptop.p12), "--poll", "1", "--choice", "approve", "--totp", "123456"), f"cannot read {laptop.p12}")
    laptop.ok("keygen", "--p12", str(laptop.p12))
    refused(laptop.run("vote", "--p12", str(laptop.p12), "--poll", "1", "--choice", "approve", "--totp", "123456"), "holds no certificate yet")
    laptop.env[client.TOKEN_ENV] = "ecab_not_a_token"
    refused(laptop.run("receipt", "--poll", "1", "--ballot", "0" * 64), "(401)")
    bad_server = subprocess.run(
        [ecabinet_sign(), "receipt", "--server", "http://127.0.0.1:9", "--token", "t", "--poll", "1", "--ballot", "0" * 64],
        env=laptop.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    refused(bad_server, "cannot reach")


def hashes_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def ec_public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
