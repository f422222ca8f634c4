"""Growing delays, then lockout, for failed sign-ins, per account name and per source address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ecabinet import rawsql
from ecabinet.identity.models import LoginThrottle

MAX_DELAY_SECONDS = 300
# An address lock lifts by itself (addresses are shared behind NAT); an account lock waits for
# the security officer.
ADDRESS_LOCK = timedelta(hours=1)


def _now() -> datetime:
    # One place for the clock, so tests can hold it still instead of racing real delays.
    return timezone.now()


def account_key(username: str) -> str:
    return username.strip().lower()[:200]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    locked: bool = False
    retry_after: int = 0
    account_failures: bool = False  # the account has failures on record (so a success has something to reset)


def keys(username: str, source_ip: str | None) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = [(LoginThrottle.Scope.ACCOUNT, account_key(username))]
    if source_ip:
        keys.append((LoginThrottle.Scope.ADDRESS, source_ip))
    return keys


def check(username: str, source_ip: str | None, *, now: datetime | None = None, rows: list[LoginThrottle] | None = None) -> Verdict:
    """``rows``: this name's and address's rows (``ROW_FIELDS`` at least) if the caller has just
    read them, sparing the read here."""
    now = now or _now()
    retry = 0
    account_row = False
    for row in _rows(keys(username, source_ip)) if rows is None else rows:
        account_row = account_row or row.scope == LoginThrottle.Scope.ACCOUNT
        if row.locked_at is not None and (row.scope == LoginThrottle.Scope.ACCOUNT or row.locked_at + ADDRESS_LOCK > now):
            return Verdict(allowed=False, locked=True, account_failures=account_row)
        if row.next_allowed_at and row.next_allowed_at > now:
            retry = max(retry, int((row.next_allowed_at - now).total_seconds()) + 1)
    return Verdict(allowed=retry == 0, retry_after=retry, account_failures=account_row)


ROW_FIELDS = ("id", "scope", "key", "locked_at", "next_allowed_at")  # what check() reads


def _rows(keys: list[tuple[str, str]]) -> list[LoginThrottle]:
    """The throttle rows for these keys, in plain SQL: every step-up code (each ballot) asks."""

    def build() -> tuple[list[Any], str]:
        fields = rawsql.fields_of(LoginThrottle, ROW_FIELDS)
        scope, key = rawsql.column(LoginThrottle, "scope"), rawsql.column(LoginThrottle, "key")
        where = " OR ".join([f"({scope} = %s AND {key} = %s)"] * len(keys))
        return fields, f"SELECT {rawsql.column_list(LoginThrottle, fields, rawsql.table(LoginThrottle))} FROM {rawsql.table(LoginThrottle)} WHERE {where}"  # noqa: S608

    fields, sql = rawsql.statement(("throttle.rows", len(keys)), build)
    with rawsql.cursor() as cursor:
        cursor.execute(sql, [part for pair in keys for part in pair])
        return [rawsql.instance(LoginThrottle, fields, row) for row in cursor.fetchall()]


def delay_for(failures: int) -> int:
    after = settings.LOGIN_DELAY_AFTER
    if failures < after:
        return 0
    return int(min(2 ** (failures - after), MAX_DELAY_SECONDS))


def record_failure(username: str, source_ip: str | None, *, now: datetime | None = None) -> bool:
    """Count one failure under both keys. Returns True if this failure locked the account."""
    now = now or _now()
    newly_locked = False
    with transaction.atomic():
        for scope, key in keys(username, source_ip):
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(scope=scope, key=key)
            if row.locked_at is not None and scope == LoginThrottle.Scope.ADDRESS and row.locked_at + ADDRESS_LOCK <= now:
                row.failures, row.locked_at = 0, None
            row.failures += 1
            row.last_failure_at = now
            delay = delay_for(row.failures)
            row.next_allowed_at = now + timedelta(seconds=delay) if delay else None
            if row.failures >= settings.LOGIN_LOCKOUT_AFTER and row.locked_at is None:
                row.locked_at = now
                newly_locked = newly_locked or scope == LoginThrottle.Scope.ACCOUNT
            row.save()
    return newly_locked


def reset_account(username: str) -> None:
    LoginThrottle.objects.filter(scope=LoginThrottle.Scope.ACCOUNT, key=account_key(username)).delete()
