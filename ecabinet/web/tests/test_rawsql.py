"""``ecabinet.rawsql``: plain-SQL rows come back as the ORM would give them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ecabinet import rawsql
from ecabinet.audit.actions import record
from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import ApiToken, Device, User
from ecabinet.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_row_read_in_plain_sql_equals_the_orms_instance():
    user = UserFactory(username="rawsql-user", full_name="Bộ trưởng Đặng")
    device = Device.objects.create(user=user, name="iPad", last_seen_at=timezone.now() - timedelta(days=1))
    plain = rawsql.by_field(Device, "id", device.pk)
    orm = Device.objects.get(pk=device.pk)
    assert plain is not None and plain.pk == orm.pk
    for field in Device._meta.concrete_fields:
        assert getattr(plain, field.attname) == getattr(orm, field.attname), field.name
    assert plain.last_seen_at.tzinfo is not None  # aware, as the ORM gives it, on SQLite too
    assert rawsql.by_field(User, "username", "no-such-user") is None


def test_json_fields_are_decoded_and_unselected_fields_are_deferred():
    entry = record("test.rawsql", object_type="test", object_id="1", details={"choices": ["Tán thành", 2], "nested": {"đ": None}})
    plain = rawsql.by_field(AuditEntry, "seq", entry.seq, names=["id", "seq", "details"])
    assert plain is not None
    assert plain.details == {"choices": ["Tán thành", 2], "nested": {"đ": None}}
    assert plain.get_deferred_fields() >= {"event", "created_at", "entry_hash"}
    assert plain.event == "test.rawsql" and plain.created_at == entry.created_at  # a deferred field loads when read, as with .only()


def _fields_of(obj):
    return {name: value for name, value in obj.__dict__.items() if name != "_state"}


def test_rows_become_the_instances_from_db_makes_without_its_init():
    user = UserFactory(username="rawsql-direct", full_name="Thứ trưởng Lê")
    names = ["id", "username", "full_name", "totp_last_step", "is_active"]
    fields = rawsql.fields_of(User, names)
    with rawsql.cursor() as cursor:
        cursor.execute(f"SELECT {rawsql.column_list(User, fields, 'u')} FROM {rawsql.table(User)} u WHERE u.id = %s", [user.pk])  # noqa: S608
        plain = rawsql.instance(User, fields, cursor.fetchone())
    orm = User.objects.only(*names).get(pk=user.pk)
    assert rawsql._converters[(connection.vendor, User, tuple(f.attname for f in fields))][1]  # built directly
    assert type(plain) is User and _fields_of(plain) == _fields_of(orm)
    assert (plain._state.adding, plain._state.db) == (False, orm._state.db)
    assert plain.get_deferred_fields() == orm.get_deferred_fields() and "email" in plain.get_deferred_fields()
    assert plain.email == user.email  # a deferred field still loads when read
    plain.full_name = "Bộ trưởng Lê"
    plain.save(update_fields=["full_name"])  # and the instance saves as the ORM's would
    assert User.objects.get(pk=user.pk).full_name == "Bộ trưởng Lê"


def test_a_model_that_does_more_when_loaded_goes_through_from_db(monkeypatch):
    from django.db.models.signals import post_init

    device = Device.objects.create(user=UserFactory(), name="iPad")
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Device)
    try:
        plain = rawsql.by_field(Device, "id", device.pk)
    finally:
        post_init.disconnect(receiver, sender=Device)
    assert seen == [plain]  # a post_init receiver sees it, as it would see the ORM's

    original = Device.from_db.__func__

    def from_db(cls, db, field_names, values):
        new = original(cls, db, field_names, values)
        new.loaded_by_from_db = True
        return new

    monkeypatch.setattr(Device, "from_db", classmethod(from_db))
    monkeypatch.setattr(rawsql, "_converters", {})
    assert rawsql.by_field(Device, "id", device.pk).loaded_by_from_db


def test_unknown_field_names_are_refused():
    with pytest.raises(ValueError, match="no_such_field"):
        rawsql.fields_of(User, ["username", "no_such_field"])


def test_update_by_pk_converts_values_and_counts_rows():
    user = UserFactory()
    device = Device.objects.create(user=user, name="iPad")
    moment = timezone.now().replace(microsecond=0)
    assert rawsql.update_by_pk(Device, device.pk, last_seen_at=moment) == 1
    assert Device.objects.get(pk=device.pk).last_seen_at == moment
    assert rawsql.update_by_pk(Device, device.pk + 999, last_seen_at=moment) == 0


def test_database_errors_arrive_as_djangos_and_the_cursor_goes_on_working():
    user = UserFactory()
    device = Device.objects.create(user=user, name="iPad")
    token = ApiToken.objects.create(user=user, device=device, key_hash="a" * 64, prefix="ecab_a", expires_at=timezone.now() + timedelta(days=1))
    columns = ", ".join(rawsql.column(ApiToken, name) for name in ("user", "device", "key_hash", "prefix", "created_at", "expires_at"))
    duplicate = f"INSERT INTO {rawsql.table(ApiToken)} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)"  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic(), rawsql.cursor() as cursor:
        cursor.execute(duplicate, [user.pk, device.pk, token.key_hash, "ecab_a", timezone.now(), timezone.now()])
    assert rawsql.by_field(ApiToken, "key_hash", token.key_hash).pk == token.pk


def test_insert_stores_rows_as_bulk_create_would_and_gives_them_their_keys():
    from ecabinet.audit import checks
    from ecabinet.audit.actions import build_entry, lock_chain

    user = UserFactory(username="rawsql-insert")
    with transaction.atomic():
        lock_chain()
        head = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first() or (None, None)
        entries = []
        for n, details in enumerate([{"đ": ["Tán thành", 1]}, {}, {"n": None}]):
            entries.append(build_entry("test.insert", after=head, actor=user, object_type="test", object_id=str(n), source_ip="2001:db8::1", details=details))
            head = (entries[-1].seq, entries[-1].entry_hash)
        rawsql.insert(AuditEntry, entries)
        rawsql.insert(AuditEntry, [])  # nothing to write: no statement
    assert all(e.pk is not None and not e._state.adding for e in entries)
    assert len({e.pk for e in entries}) == 3
    for entry in entries:
        stored = AuditEntry.objects.get(pk=entry.pk)
        for field in AuditEntry._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(entry, field.attname), field.name
    assert checks.full_verify().report.ok


def test_insert_passes_plain_values_as_they_are_and_prepares_the_rest_as_the_orm_does():
    from django.utils.translation import gettext_lazy

    user = UserFactory()
    devices = [
        Device(user=user, name=gettext_lazy("Máy tính bảng"), user_agent=12345, kind=Device.Kind.BROWSER),  # a lazy string, an int for text
        Device(user_id=user.pk, name="iPad", last_seen_at=timezone.now()),
    ]
    rawsql.insert(Device, devices)
    stored = {d.pk: d for d in Device.objects.filter(pk__in=[d.pk for d in devices])}
    assert (stored[devices[0].pk].name, stored[devices[0].pk].user_agent, stored[devices[0].pk].kind) == ("Máy tính bảng", "12345", "browser")
    assert stored[devices[1].pk].user_id == user.pk and stored[devices[1].pk].last_seen_at == devices[1].last_seen_at


def test_insert_refused_by_a_unique_column_writes_nothing():
    from ecabinet.audit.actions import build_entry

    first = record("test.insert")
    before = AuditEntry.objects.count()
    clash = build_entry("test.insert", after=(first.seq - 1, first.prev_hash)) if first.seq else build_entry("test.insert", after=(None, None))
    fresh = build_entry("test.insert", after=(first.seq, first.entry_hash))
    with pytest.raises(IntegrityError), transaction.atomic():
        rawsql.insert(AuditEntry, [fresh, clash])
    assert AuditEntry.objects.count() == before
    with pytest.raises(TypeError, match="automatic primary key"):
        from django.contrib.sessions.models import Session

        rawsql.insert(Session, [Session(session_key="x", session_data="", expire_date=timezone.now())])


def test_placeholders_are_numbered_once_per_statement_and_other_percent_signs_are_refused():
    sql = "SELECT a FROM t WHERE b = %s AND c IN (%s, %s)"
    assert rawsql.numbered(sql) == "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
    assert rawsql.numbered(sql) is rawsql.numbered(sql)  # kept
    assert rawsql.numbered("SELECT 1") == "SELECT 1"
    for bad in ("SELECT a FROM t WHERE b LIKE 'x%'", "SELECT %(name)s", "SELECT %s %% 2"):
        with pytest.raises(ValueError):
            rawsql.numbered(bad)


def test_a_statement_with_many_parameters_runs_as_written():
    users = UserFactory.create_batch(3)
    rows = ", ".join(["(%s, %s)"] * 60)
    sql = f"SELECT v.column1, v.column2 FROM (VALUES {rows}) v ORDER BY v.column1"  # noqa: S608 - placeholders only
    values = [x for n in range(60) for x in (n, users[n % 3].username)]
    with rawsql.cursor() as cursor:
        cursor.execute(sql, values)
        got = cursor.fetchall()
    assert [tuple(row) for row in got] == [(n, users[n % 3].username) for n in range(60)]
