"""``ecabinet audit …``: every subcommand, its --help, and its exit codes."""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from ecabinet import cli
from ecabinet.audit import actions, events, signing
from ecabinet.audit.core import note, proof
from ecabinet.audit.core.chain import canonical_json
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.audit.tests import tamper

pytestmark = pytest.mark.django_db
SUBCOMMANDS = ["verify", "checkpoint", "proof", "verify-proof", "export", "pubkey"]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_console_script_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["ecabinet", "audit", "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in usage


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_subcommand_has_help(capsys, subcommand):
    with pytest.raises(SystemExit) as done:
        cli.main(["ecabinet", "audit", subcommand, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"ecabinet audit {subcommand}" in text and "-h, --help" in text


def test_an_unknown_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["ecabinet", "audit", "frobnicate"])
    assert done.value.code != 0
    assert "invalid choice" in capsys.readouterr().err


def test_verify_prints_an_ok_line_with_the_count(entries):
    entries(4)
    actions.make_checkpoint()
    out, _ = run("verify")
    assert out.strip() == "OK: 4 audit entries, hash chain intact; 1 checkpoint verified (latest signed checkpoint covers 4)"
    assert AuditEntry.objects.filter(event=events.AUDIT_VERIFIED).count() == 1
    out, _ = run("verify", "--json", "--no-record")
    result = json.loads(out)
    assert result["ok"] is True and result["entries"] == 5 and result["problems"] == [] and result["missing_guards"] == []
    assert AuditEntry.objects.filter(event=events.AUDIT_VERIFIED).count() == 1


def test_verify_lists_problems_and_warns_about_a_missing_guard(entries):
    entries(6)
    tamper.disable_guards()
    tamper.modify_details(2, {"x": 1})
    tamper.delete(4)
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", "--no-record", stderr=err)
    assert failed.value.returncode == 1
    assert str(failed.value).startswith("FAILED: entry #2:")
    listing = err.getvalue()
    assert "WARNING: append-only trigger" in listing
    assert "entry #2:" in listing and "entry #4:" in listing


def test_checkpoint_prints_the_signed_note_once(entries):
    out, _ = run("checkpoint")
    assert out.strip() == "The audit log is empty; nothing to sign."
    entries(3)
    out, err = run("checkpoint")
    assert out.startswith(f"{settings.AUDIT_ORIGIN}\n3\n") and "signed checkpoint of size 3" in err
    again, err = run("checkpoint")
    assert again == out and "still stands" in err
    assert Checkpoint.objects.count() == 1


def test_checkpoint_refuses_a_broken_log(entries):
    entries(3)
    tamper.disable_guards()
    tamper.modify_details(1, {"x": 1})
    with pytest.raises(CommandError, match=r"no checkpoint signed: .*#1"):
        run("checkpoint")


def test_proof_and_verify_proof_round_trip(entries, tmp_path):
    entries(7)
    actions.make_checkpoint()
    out, _ = run("proof", "5")
    bundle = json.loads(out)
    assert bundle["seq"] == bundle["leaf_index"] == 5 and bundle["tree_size"] == 7
    assert json.loads(bundle["entry"])["seq"] == 5
    proof.check(bundle, signing.public_key())
    path = tmp_path / "proof.json"
    run("proof", "5", "--output", str(path))
    out, _ = run("verify-proof", str(path))
    assert out.startswith("OK: entry #5 (test.thing.happened) is in the log of 7 entries")

    pem = tmp_path / "pub.pem"
    pem.write_text(signing.public_key_pem())
    out, _ = run("verify-proof", str(path), "--pubkey", str(pem), "--origin", settings.AUDIT_ORIGIN)
    assert out.startswith("OK: entry #5")


def test_verify_proof_refuses_changes_and_other_keys(entries, tmp_path):
    entries(4)
    actions.make_checkpoint()
    out, _ = run("proof", "2")
    bundle = json.loads(out)
    cases = {
        "entry": {**bundle, "entry": bundle["entry"].replace('"seq":2', '"seq":2,"x":1')},
        "path": {**bundle, "audit_path": list(reversed(bundle["audit_path"]))},
        "root": {**bundle, "root": hashlib.sha256(b"x").hexdigest()},
        "checkpoint": {**bundle, "checkpoint": bundle["checkpoint"].replace("\n4\n", "\n5\n")},
        "origin": {**bundle, "origin": "someone.else/audit"},
    }
    for name, changed in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(changed))
        with pytest.raises(CommandError, match="proof does NOT hold") as failed:
            run("verify-proof", str(path))
        assert failed.value.returncode == 1, name

    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    good = tmp_path / "good.json"
    good.write_text(out)
    with pytest.raises(CommandError, match="no signature by"):
        run("verify-proof", str(good), "--pubkey", str(other))

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(CommandError) as failed:
        run("verify-proof", str(garbage))
    assert failed.value.returncode == 2


def test_proof_explains_why_there_is_none(entries):
    entries(2)
    with pytest.raises(CommandError, match="No signed checkpoint"):
        run("proof", "0")
    actions.make_checkpoint()
    entries(1)
    with pytest.raises(CommandError, match="newer than the latest checkpoint"):
        run("proof", "2")
    with pytest.raises(CommandError, match="no audit entry #99"):
        run("proof", "99")


def test_proof_refuses_to_prove_a_rewritten_entry(entries):
    entries(4)
    actions.make_checkpoint()
    tamper.disable_guards()
    tamper.rewrite_from(1, {"rewritten": True})
    with pytest.raises(CommandError, match="No valid proof for #1"):
        run("proof", "1")


def test_export_writes_entries_then_checkpoints_and_is_audited(entries, tmp_path):
    entries(3)
    actions.make_checkpoint()
    path = tmp_path / "export.jsonl"
    _, err = run("export", "--output", str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["entry"] * 3 + ["checkpoint"]
    assert "4 lines written" in err
    for line in lines[:3]:
        assert hashlib.sha256(canonical_json(line["entry"])).hexdigest() == line["entry_hash"]
    assert [line["entry"]["seq"] for line in lines[:3]] == [0, 1, 2]
    assert lines[3]["size"] == 3 and lines[3]["note"] == Checkpoint.objects.get().note
    exported = AuditEntry.objects.get(event=events.AUDIT_EXPORTED)
    assert exported.seq == 3 and exported.details == {"channel": "cli", "filters": {}, "through_seq": 2}


def test_export_can_be_filtered(entries, make_user):
    user = make_user()
    entries(2)
    entries(2, actor=user, event="test.other")
    out, _ = run("export", "--event", "test.other", "--actor", user.username)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["entry"]["event"] for line in lines] == ["test.other", "test.other"]
    exported = AuditEntry.objects.get(event=events.AUDIT_EXPORTED)
    assert exported.details["filters"] == {"event": "test.other", "actor": user.username}


def test_pubkey_prints_pem_and_verifier_key():
    out, _ = run("pubkey")
    key = serialization.load_pem_public_key(out.encode())
    assert key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == note.raw_public_key(signing.public_key())
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and out == signing.public_key_pem()
    out, _ = run("pubkey", "--vkey")
    name, key_hash, encoded = out.strip().split("+", 2)
    assert name == settings.AUDIT_ORIGIN and key_hash == signing.key_id() and len(encoded) == 44
