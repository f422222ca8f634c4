"""The hash chain: how entries are written, the append-only guard, and every kind of tampering."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, models, transaction

from ecabinet.audit import actions, checks, db_guard, events
from ecabinet.audit.actions import record
from ecabinet.audit.core.chain import GENESIS_HASH
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.audit.tests import tamper
from ecabinet.identity.models import Role, User

pytestmark = pytest.mark.django_db


def test_entries_form_a_chain_from_genesis(entries, make_user):
    user = make_user(Role.SECRETARY)
    made = entries(5, actor=user)
    stored = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in stored] == [0, 1, 2, 3, 4]
    assert stored[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.entry_hash
    for entry in stored:
        # What the database gives back hashes to what was computed before writing.
        assert entry.fields().entry_hash() == entry.entry_hash
    assert made[2].actor_label == user.username and stored[2].actor_id == user.pk


def test_record_names_the_object_and_normalises_what_it_stores(make_user):
    user = make_user()
    entry = record(events.ROLE_CHANGED, actor=user, obj=user, source_ip="::ffff:198.51.100.7", details={"to": ("a", "b"), "who": "Trần Thị Bình"})
    entry.refresh_from_db()
    assert (entry.object_type, entry.object_id) == ("identity.user", str(user.pk))
    assert entry.source_ip == "198.51.100.7"
    assert entry.details == {"to": ["a", "b"], "who": "Trần Thị Bình"}
    assert entry.fields().entry_hash() == entry.entry_hash


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"details": {"score": 0.5}}, "floating-point"),
        ({"details": {"nested": [{"x": 1e20}]}}, "floating-point"),
        ({"details": {"text": "a\x00b"}}, "NUL"),
        ({"details": {"x": float("nan")}}, "JSON compliant|floating"),
        ({"details": {"when": object()}}, "not JSON serializable"),
        ({"source_ip": "not an address"}, "does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_record_refuses_what_would_not_hash_the_same_after_storage(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        record("test.refused", **kwargs)
    assert not AuditEntry.objects.exists()


def test_an_entry_rolls_back_with_the_change_it_describes(entries):
    entries(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        record("test.inside")
        raise RuntimeError("the change failed")
    assert list(AuditEntry.objects.values_list("event", flat=True)) == ["test.thing.happened"]
    assert record("test.after").seq == 1


def test_deleting_a_user_leaves_their_entries_and_the_chain_intact(entries, make_user):
    user = make_user()
    entries(3, actor=user)
    # Deleting the user must not touch the entries: no cascade, no SET NULL, no constraint.
    actor = AuditEntry._meta.get_field("actor")
    assert actor.remote_field.on_delete is models.DO_NOTHING and not actor.db_constraint  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM identity_user WHERE id = %s", [user.pk])
    assert not User.objects.filter(pk=user.pk).exists()
    assert set(AuditEntry.objects.values_list("actor_id", "actor_label")) == {(user.pk, user.username)}
    assert checks.full_verify().report.ok


# -- the append-only guard ------------------------------------------------------------------------


def test_guard_triggers_are_installed():
    assert db_guard.missing(connection) == []


def test_update_and_delete_are_refused_while_the_guard_is_there(entries):
    entries(3)
    actions.make_checkpoint()
    refused = [
        lambda: AuditEntry.objects.filter(seq=1).update(event="edited"),
        lambda: AuditEntry.objects.filter(seq=1).delete(),
        lambda: AuditEntry.objects.all().delete(),
        lambda: Checkpoint.objects.update(root_hash="0" * 64),
        lambda: Checkpoint.objects.all().delete(),
    ]
    with connection.cursor() as cursor:
        refused.append(lambda: cursor.execute("UPDATE audit_auditentry SET details = details WHERE seq = 0"))
        refused.append(lambda: cursor.execute("DELETE FROM audit_auditentry"))
        for attempt in refused:
            with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
                attempt()
    assert AuditEntry.objects.count() == 3 and Checkpoint.objects.count() == 1
    assert checks.full_verify().report.ok


def test_truncate_is_refused_on_postgresql_and_delete_on_sqlite(entries):
    entries(2)
    statement = "TRUNCATE audit_auditentry" if connection.vendor == "postgresql" else "DELETE FROM audit_auditentry WHERE 1"
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEntry.objects.count() == 2


def test_a_disabled_guard_is_reported(entries):
    entries(1)
    tamper.disable_guards()
    assert set(db_guard.missing(connection)) == {n for t in db_guard.TABLES for n in db_guard.trigger_names(t, connection.vendor)}
    db_guard.install(connection)
    assert db_guard.missing(connection) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.update(event="edited")


def test_migrate_puts_back_a_dropped_guard():
    # SQLite drops a table's triggers whenever a migration rebuilds the table.
    tamper.disable_guards()
    call_command("migrate", verbosity=0)
    assert db_guard.missing(connection) == []


# -- tampering ------------------------------------------------------------------------------------


@pytest.fixture
def log_of_ten(entries):
    entries(10)
    checkpoint, created = actions.make_checkpoint()
    assert created and checkpoint is not None and checkpoint.size == 10
    entries(2)  # two more, not yet under a checkpoint
    assert checks.full_verify().report.ok
    tamper.disable_guards()


def verify_fails_at(seq: int) -> str:
    report = checks.full_verify().report
    assert not report.ok
    assert report.first_bad_seq == seq, report.problems
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", "--no-record")
    assert failed.value.returncode == 1
    assert f"entry #{seq}" in str(failed.value)
    return str(report.first_problem())


def test_a_modified_entry_is_caught(log_of_ten):
    tamper.modify_details(4, {"n": 4, "note": "something else"})
    assert "does not match its hash" in verify_fails_at(4)


def test_a_deleted_entry_is_caught(log_of_ten):
    tamper.delete(6)
    assert "missing" in verify_fails_at(6)


def test_a_deleted_entry_after_the_last_checkpoint_is_caught(log_of_ten):
    tamper.delete(10)
    assert "missing" in verify_fails_at(10)


def test_an_inserted_entry_is_caught(log_of_ten):
    tamper.insert_forged(3)
    assert AuditEntry.objects.get(seq=3).event == "forged.event"
    assert "prev_hash" in verify_fails_at(3)


def test_reordered_entries_are_caught(log_of_ten):
    tamper.swap(7, 8)
    verify_fails_at(7)


def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint(log_of_ten):
    # Whoever owns the table can rebuild a chain that links; only the signature gives it away.
    tamper.rewrite_from(5, {"n": 5, "note": "rewritten"})
    stored = list(AuditEntry.objects.order_by("seq"))
    assert all(e.fields().entry_hash() == e.entry_hash for e in stored)
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(stored))
    problem = verify_fails_at(0)
    assert "checkpoint of size 10" in problem and "#0..#9" in problem


def test_a_rewrite_is_placed_between_two_checkpoints(log_of_ten):
    actions.make_checkpoint()  # size 12
    tamper.rewrite_from(11, {"rewritten": True})
    problem = verify_fails_at(10)
    assert "#10..#11" in problem and "checkpoint of size 12" in problem


def test_a_deleted_tail_under_a_checkpoint_is_caught(log_of_ten):
    tamper.delete(11)
    tamper.delete(10)
    tamper.delete(9)
    problem = verify_fails_at(9)
    assert "size 10" in problem


def test_a_forged_checkpoint_is_caught(log_of_ten):
    tamper.forge_checkpoint_root(10)
    report = checks.full_verify().report
    assert not report.ok and report.first_bad_seq is None
    assert "checkpoint of size 10" in str(report.first_problem())


def test_a_checkpoint_signed_by_another_key_is_caught(log_of_ten):
    checkpoint = Checkpoint.objects.get(size=10)
    other = checkpoint.note.rsplit(" ", 1)[0] + " " + "A" * 92 + "\n"
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note=other)
    report = checks.full_verify().report
    assert not report.ok and "signature does not verify" in str(report.first_problem())


def test_verify_names_a_rehashed_entry_by_the_link_it_breaks(log_of_ten):
    entry = AuditEntry.objects.get(seq=2)
    changed = dataclasses.replace(entry.fields(), details={"n": 2, "note": "changed and re-hashed"})
    AuditEntry.objects.filter(pk=entry.pk).update(details=changed.details, entry_hash=changed.entry_hash())
    assert "#2 was rewritten" in verify_fails_at(3)


def test_verify_result_is_recorded_in_the_log(entries):
    entries(2)
    call_command("audit", "verify")
    last = checks.latest_full_verification()
    assert last is not None and last.event == events.AUDIT_VERIFIED
    assert last.details["entries"] == 2 and last.details["first_bad_seq"] is None
    tamper.disable_guards()
    tamper.modify_details(1, {"x": "y"})
    with pytest.raises(CommandError):
        call_command("audit", "verify")
    failed = checks.latest_full_verification()
    assert failed is not None and failed.event == events.AUDIT_VERIFY_FAILED and failed.details["first_bad_seq"] == 1
    assert failed.details["problem"].startswith("entry #1")
