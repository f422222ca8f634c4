"""Evidence anyone can verify: the real openssl binary on every ballot and on the signed result,
and ``ecabinet poll verify`` on whole folders, sound and damaged."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.pki import actions as pki_actions
from ecabinet.voting import actions, events, evidence
from ecabinet.voting.core import evidence as evidence_core
from ecabinet.voting.core.canonical import canonicalize
from ecabinet.voting.tests.conftest import cast

pytestmark = pytest.mark.django_db

OPENSSL = shutil.which("openssl")


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL, "openssl is missing: run `make sysdeps`"
    return subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=False)


def cms_verify(folder: Path, name: str) -> subprocess.CompletedProcess[str]:
    return openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        f"{name}.p7s",
        "-content",
        f"{name}.json",
        "-CAfile",
        "ca.pem",
        "-purpose",
        "any",
        "-out",
        "/dev/null",
        cwd=folder,
    )


@pytest.fixture
def closed_poll(voting):
    chair = voting.cabinet.chair
    poll = actions.create_poll(question="Thông qua Đề án chuyển đổi số?", item=voting.cabinet.items[1], allow_change=True, acting_user=chair)
    actions.open_poll(poll, acting_user=chair)
    members = voting.members
    cast(members[0], poll, "reject")
    cast(members[0], poll, "approve")  # changed: the earlier ballot stays in the evidence, uncounted
    cast(members[1], poll, "approve")
    cast(members[2], poll, "reject")
    cast(voting.chair, poll, "approve")
    return actions.close_poll(poll, acting_user=chair)


def verify(folder: Path) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("poll", "verify", str(folder), stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_result_applies_the_rule_and_is_signed(closed_poll, tmp_path):
    tally = closed_poll.result["tally"]
    assert tally["counts"] == {"approve": 3, "reject": 1, "abstain": 0} and tally["outcome"] == "adopted" and tally["cast"] == 4
    assert [b["counted"] for b in closed_poll.result["ballots"]] == [False, True, True, True, True]
    assert bytes(closed_poll.result_bytes) == canonicalize(closed_poll.result)
    folder = tmp_path / "ev"
    evidence.write_folder(evidence.export(closed_poll), folder)
    result = openssl("pkeyutl", "-verify", "-pubin", "-inkey", "result-signer.pem", "-rawin", "-in", "result.json", "-sigfile", "result.sig", cwd=folder)
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, result.stdout + result.stderr
    entry = AuditEntry.objects.get(event=events.POLL_CLOSED)
    assert entry.details["outcome"] == "adopted" and entry.details["by"] == "chair"


def test_every_ballot_verifies_with_openssl_and_a_changed_byte_fails(closed_poll, tmp_path):
    folder = tmp_path / "ev"
    call_command("poll", "evidence", str(closed_poll.pk), str(folder), stdout=StringIO())
    names = sorted(p.stem for p in folder.glob("ballot-*.p7s"))
    assert len(names) == 5
    for name in names:
        result = cms_verify(folder, name)
        assert result.returncode == 0, result.stderr
        assert "Verification successful" in result.stderr
    victim = folder / f"{names[1]}.json"
    victim.write_bytes(victim.read_bytes().replace(b'"approve"', b'"reject"'))
    result = cms_verify(folder, names[1])
    assert result.returncode != 0 and "Verification successful" not in result.stderr
    assert {"README.txt", "ca.pem", "issuing.crl", "root.crl", "result.json", "result.sig", "result-signer.pem"} <= {p.name for p in folder.iterdir()}
    assert AuditEntry.objects.filter(event=events.EVIDENCE_EXPORTED).count() == 1


def test_poll_verify_accepts_a_sound_folder(closed_poll, tmp_path):
    folder = tmp_path / "ev"
    evidence.write_folder(evidence.export(closed_poll), folder)
    code, out = verify(folder)
    assert code == 0, out
    assert "OK: poll" in out and "5 ballots verified (4 counted)" in out and "adopted" in out


def _damaged(closed_poll, tmp_path, name):
    folder = tmp_path / name
    evidence.write_folder(evidence.export(closed_poll), folder)
    return folder


def test_poll_verify_finds_a_changed_ballot(closed_poll, tmp_path):
    folder = _damaged(closed_poll, tmp_path, "changed")
    victim = sorted(folder.glob("ballot-*.json"))[-1]
    victim.write_bytes(victim.read_bytes().replace(b'"approve"', b'"reject"'))
    code, out = verify(folder)
    assert code == 1 and f"DEFECT: {victim.stem}" in out


def test_poll_verify_finds_a_missing_signature_and_an_extra_ballot(closed_poll, tmp_path):
    folder = _damaged(closed_poll, tmp_path, "missing")
    first = sorted(folder.glob("ballot-*.p7s"))[0]
    (folder / "ballot-99999999.json").write_bytes(first.with_suffix(".json").read_bytes())
    first.unlink()
    code, out = verify(folder)
    assert code == 1 and f"{first.name} is missing" in out and "ballot-99999999.json is in the folder but not in the signed result" in out


def test_poll_verify_finds_a_forged_result(closed_poll, tmp_path):
    folder = _damaged(closed_poll, tmp_path, "forged")
    result = json.loads((folder / "result.json").read_bytes())
    result["tally"]["counts"]["reject"] = 3
    (folder / "result.json").write_bytes(canonicalize(result))
    code, out = verify(folder)
    assert code == 1 and "result.sig is not the installation's signature" in out and "the recomputed tally" in out


def test_poll_verify_finds_a_duplicate_counted_voter(closed_poll, tmp_path):
    folder = _damaged(closed_poll, tmp_path, "dup")
    result = json.loads((folder / "result.json").read_bytes())
    result["ballots"][0]["counted"] = True
    (folder / "result.json").write_bytes(canonicalize(result))
    code, out = verify(folder)
    assert code == 1 and "the last ballot of each voter is what counts" in out


def test_poll_verify_checks_revocation_at_signing_time(closed_poll, voting, tmp_path):
    """Revoked after voting: still valid. Claimed received after the revocation: a defect."""
    member = voting.members[1]
    time.sleep(1.05)  # CRL dates have whole seconds: revoke in a later second than the ballot
    pki_actions.revoke_certificate(member.certificate, reason="key_compromise", acting_user=member.user, source_ip=None)
    folder = _damaged(closed_poll, tmp_path, "revoked")
    code, out = verify(folder)
    assert code == 0, out
    report = evidence_core.verify_folder(folder)
    assert report.ok
    result = json.loads((folder / "result.json").read_bytes())
    for entry in result["ballots"]:
        if entry["voter"] == member.user.pk:
            entry["received_at"] = "2100-01-01T00:00:00.000Z"
    (folder / "result.json").write_bytes(canonicalize(result))
    problems = evidence_core.verify_folder(folder).problems
    assert any("certificate_revoked" in p or "certificate_expired" in p for p in problems), problems


def test_evidence_zip_through_the_api(closed_poll, voting):
    member = voting.members[0]
    response = Client().get(f"/api/v1/polls/{closed_poll.pk}/evidence.zip", **member.auth())
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(BytesIO(response.content)).namelist()
    assert f"poll-{closed_poll.pk}/result.json" in names and len([n for n in names if n.endswith(".p7s")]) == 5


def test_evidence_is_refused_before_closing(voting, item_poll):
    member = voting.members[0]
    response = Client().get(f"/api/v1/polls/{item_poll.pk}/evidence.zip", **member.auth())
    assert response.status_code == 409 and response.json()["code"] == "poll_wrong_state"


def test_poll_list_cli_shows_the_result(closed_poll):
    out = StringIO()
    call_command("poll", "list", "--json", stdout=out)
    row = json.loads(out.getvalue().splitlines()[0])
    assert row["id"] == closed_poll.pk and row["state"] == "closed" and row["outcome"] == "adopted" and row["counts"]["approve"] == 3
