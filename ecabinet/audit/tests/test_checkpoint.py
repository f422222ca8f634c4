"""Signed checkpoints: made on demand and by the beat task, idempotent, signed with the installation key."""

from __future__ import annotations

import base64
import stat
import threading

import pytest
from django.conf import settings

from ecabinet.audit import actions, errors, events, signing, tasks
from ecabinet.audit.core import merkle, note
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.audit.tests import tamper
from ecabinet.celery import app as celery_app

pytestmark = pytest.mark.django_db


def leaf_hashes() -> list[bytes]:
    return [e.fields().leaf_hash() for e in AuditEntry.objects.order_by("seq")]


def test_no_checkpoint_for_an_empty_log():
    assert actions.make_checkpoint() == (None, False)
    assert not Checkpoint.objects.exists()


def test_a_checkpoint_signs_the_merkle_root_of_every_entry(entries):
    entries(6)
    checkpoint, created = actions.make_checkpoint()
    assert created and checkpoint is not None
    signed = note.open_checkpoint(checkpoint.note, settings.AUDIT_ORIGIN, signing.public_key())
    assert signed == note.Checkpoint(origin=settings.AUDIT_ORIGIN, size=6, root=merkle.root_of(leaf_hashes()))
    assert checkpoint.root_hash == signed.root.hex()
    assert checkpoint.key_id == note.key_hash(settings.AUDIT_ORIGIN, signing.public_key()).hex()
    assert checkpoint.head_hash == AuditEntry.objects.get(seq=5).entry_hash
    assert merkle.CompactRange(6, [bytes.fromhex(h) for h in checkpoint.frontier]).root() == signed.root
    body, _, signature_line = checkpoint.note.partition("\n\n")
    assert body + "\n" == f"{settings.AUDIT_ORIGIN}\n6\n{base64.b64encode(signed.root).decode()}\n"
    assert signature_line.startswith(f"— {settings.AUDIT_ORIGIN} ")


def test_checkpoints_are_idempotent_and_consistent_with_each_other(entries):
    entries(3)
    first, created = actions.make_checkpoint()
    again, created_again = actions.make_checkpoint()
    assert created and not created_again and again == first
    assert Checkpoint.objects.count() == 1
    entries(5)
    second, created = actions.make_checkpoint()
    assert created and second is not None and first is not None and second.size == 8
    leaves = leaf_hashes()
    proof = merkle.consistency_proof(leaves, 3, 8)
    assert merkle.verify_consistency(3, 8, proof, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash))


def test_the_beat_task_is_registered_scheduled_and_idempotent(entries):
    assert settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]["task"] == "ecabinet.audit.tasks.make_checkpoint"
    assert "ecabinet.audit.tasks.make_checkpoint" in celery_app.tasks
    assert tasks.make_checkpoint.delay().get() is None
    entries(4)
    assert tasks.make_checkpoint.delay().get() == 4
    assert tasks.make_checkpoint.delay().get() == 4
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4]


def test_a_broken_log_is_not_signed_and_the_refusal_is_recorded(entries):
    entries(5)
    actions.make_checkpoint()
    entries(3)
    tamper.disable_guards()
    tamper.modify_details(6, {"changed": True})
    with pytest.raises(errors.ChainBroken, match="#6"):
        actions.make_checkpoint()
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [5]
    refusal = AuditEntry.objects.order_by("-seq").first()
    assert refusal is not None and refusal.event == events.AUDIT_CHECKPOINT_REFUSED and "#6" in refusal.details["problem"]
    assert tasks.make_checkpoint.delay().get() is None


def test_a_changed_entry_under_the_last_checkpoint_stops_the_next_one(entries):
    entries(5)
    actions.make_checkpoint()
    entries(1)
    tamper.disable_guards()
    tamper.modify_details(4, {"changed": True})
    with pytest.raises(errors.ChainBroken, match="#4"):
        actions.make_checkpoint()


def test_a_shortened_log_is_not_signed(entries):
    entries(4)
    actions.make_checkpoint()
    tamper.disable_guards()
    tamper.delete(3)
    with pytest.raises(errors.ChainBroken):
        actions.make_checkpoint()


def test_the_key_is_made_once_private_and_shared_by_concurrent_callers(tmp_path, settings):
    settings.KEY_DIR = tmp_path / "keys"
    barrier = threading.Barrier(4)
    keys: list[bytes] = []

    def load() -> None:
        barrier.wait()
        keys.append(note.raw_public_key(signing.public_key()))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1
    path = signing.key_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert b"PRIVATE KEY" in path.read_bytes()
    assert signing.public_key_pem().startswith("-----BEGIN PUBLIC KEY-----")


def test_an_unreadable_key_is_a_clear_error(tmp_path, settings):
    settings.KEY_DIR = tmp_path / "keys"
    settings.KEY_DIR.mkdir()
    signing.key_path().write_text("not a key")
    with pytest.raises(errors.SigningKeyUnavailable, match="Ed25519 private key"):
        signing.private_key()
    settings.KEY_DIR = tmp_path / "file-not-dir"
    settings.KEY_DIR.write_text("")
    with pytest.raises(errors.SigningKeyUnavailable):
        signing.private_key()
