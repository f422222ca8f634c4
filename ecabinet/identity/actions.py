"""Every change to identities, sessions and devices goes through these functions.

Each writes its audit entry. Refusals (wrong password, wrong code) are recorded outside any
transaction that is rolled back, so the entry stays while nothing else changes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from ecabinet import rawsql
from ecabinet.audit import events
from ecabinet.audit.actions import record
from ecabinet.identity import errors, throttle
from ecabinet.identity.core import secretbox, totp
from ecabinet.identity.models import ApiToken, Clearance, Device, LoginThrottle, Organisation, Role, User, UserSession
from ecabinet.identity.signals import user_disabled

TOTP_PURPOSE = "totp"
SESSION_LOGIN_AT = "ecab_login_at"
SESSION_SEEN_AT = "ecab_seen_at"
SESSION_MFA = "ecab_mfa"
SESSION_PENDING_USER = "ecab_pending_user"
SESSION_PENDING_AT = "ecab_pending_at"
PENDING_SECONDS = 300
TOKEN_PREFIX = "ecab_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for, not a secret


def _session_store(key: str) -> SessionBase:
    engine = import_string(settings.SESSION_ENGINE + ".SessionStore")
    return engine(session_key=key)  # type: ignore[no-any-return]


# --- creating people and organisations -------------------------------------------------------


def create_organisation(*, name: str, kind: str, short_name: str = "", parent: Organisation | None = None, acting_user: Any = None) -> Organisation:
    with transaction.atomic():
        org = Organisation.objects.create(name=name, kind=kind, short_name=short_name, parent=parent)
        record(events.ORGANISATION_CREATED, actor=acting_user, obj=org, details={"name": name, "kind": kind})
    return org


def create_user(
    *,
    username: str,
    password: str | None,
    role: str,
    organisation: Organisation | None,
    full_name: str = "",
    title: str = "",
    email: str = "",
    clearance: int = Clearance.INTERNAL,
    language: str = "vi",
    acting_user: Any = None,
) -> User:
    if role not in Role.values:
        raise errors.ECabinetError(f"unknown role {role!r}")
    with transaction.atomic():
        user = User(
            username=username,
            role=role,
            organisation=organisation,
            full_name=full_name,
            title=title,
            email=email,
            clearance=clearance,
            language=language,
        )
        _sync_admin_flags(user)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        record(
            events.USER_CREATED,
            actor=acting_user,
            obj=user,
            details={"username": username, "role": role, "clearance": Clearance(clearance).key},
        )
    return user


def _sync_admin_flags(user: User) -> None:
    # Django admin keys on is_staff/is_superuser; the role is the one source of truth.
    user.is_staff = user.is_superuser = user.role == Role.ADMIN


# --- signing in ----------------------------------------------------------------------------


def check_password(username: str, password: str, *, source_ip: str | None) -> User:
    """First step of a sign-in. Same answer, and the same work, for unknown and known names."""
    verdict = throttle.check(username, source_ip)
    if not verdict.allowed:
        _refuse(username, source_ip, stage="password", locked=verdict.locked)
        if verdict.locked:
            raise errors.LoginLocked()
        raise errors.LoginThrottled(f"Try again in {verdict.retry_after} seconds.", retry_after=verdict.retry_after)
    user = auth.authenticate(None, username=username, password=password)
    if user is None:
        locked = throttle.record_failure(username, source_ip)
        known = User.objects.filter(username=username).first()
        record(
            events.LOGIN_FAILED,
            actor=known,
            object_type="identity.user" if known else "",
            object_id=known.pk if known else "",
            source_ip=source_ip,
            details={"username": username[:150], "stage": "password", "reason": _failure_reason(known)},
        )
        if locked:
            record(events.LOGIN_LOCKED, actor=known, source_ip=source_ip, details={"username": username[:150]})
        raise errors.BadCredentials()
    assert isinstance(user, User)
    return user


def _failure_reason(known: User | None) -> str:
    if known is None:
        return "unknown_user"
    return "disabled" if not known.is_active else "bad_password"


def _refuse(username: str, source_ip: str | None, *, stage: str, locked: bool) -> None:
    known = User.objects.filter(username=username).first()
    record(
        events.LOGIN_THROTTLED,
        actor=known,
        source_ip=source_ip,
        details={"username": username[:150], "stage": stage, "locked": locked},
    )


def check_totp(user: User, code: str, *, source_ip: str | None) -> None:
    """Second step. A code counts once: its time step must be later than the last one used."""
    step = totp_step(user, code, source_ip=source_ip)
    if not spend_step(user.pk, step.step):
        refuse_spent_step(user, source_ip=source_ip)
    step.spent()


@dataclass
class StepUp:
    """A one-time code that matched, not yet spent: ``step`` is its time step. Whoever spends it
    (``spend_step``, or a ballot group's one update for all its ballots) calls ``spent()`` after."""

    user: User
    step: int
    account_failures: bool

    def spent(self) -> None:
        self.user.totp_last_step = self.step
        if self.account_failures:  # nothing to reset otherwise: spare a write per ballot and sign-in
            throttle.reset_account(self.user.username)


def totp_step(user: User, code: str, *, source_ip: str | None, throttle_rows: list[LoginThrottle] | None = None) -> StepUp:
    """Everything ``check_totp`` checks before the code is spent: the throttle, the enrolment, the
    code, and that its step is later than the user's last (as read, so the spend may still find it
    taken by a request in parallel). ``throttle_rows``: the user's and address's rows, if the
    caller has just read them (``throttle.keys``, with ``throttle.ROW_FIELDS``)."""
    verdict = throttle.check(user.username, source_ip, rows=throttle_rows)
    if not verdict.allowed:
        _refuse(user.username, source_ip, stage="totp", locked=verdict.locked)
        if verdict.locked:
            raise errors.LoginLocked()
        raise errors.LoginThrottled(f"Try again in {verdict.retry_after} seconds.", retry_after=verdict.retry_after)
    if not user.mfa_enrolled:
        raise errors.MfaNotEnrolled()
    secret = secretbox.unseal(settings.SECRET_KEY, TOTP_PURPOSE, user.totp_secret)
    step = totp.matching_step(secret, code)
    if step is None:
        _totp_failed(user, source_ip=source_ip, event=events.MFA_FAILED)
    elif user.totp_last_step is not None and step <= user.totp_last_step:
        refuse_spent_step(user, source_ip=source_ip)
    return StepUp(user=user, step=step, account_failures=verdict.account_failures)


def refuse_spent_step(user: User, *, source_ip: str | None) -> NoReturn:
    """The code's step was used already (a replay): count the failure, record it, refuse."""
    _totp_failed(user, source_ip=source_ip, event=events.MFA_REPLAYED)


def _totp_failed(user: User, *, source_ip: str | None, event: str) -> NoReturn:
    throttle.record_failure(user.username, source_ip)
    record(event, actor=user, obj=user, source_ip=source_ip, details={"stage": "totp"})
    raise errors.MfaInvalid()


def spend_steps(steps: list[tuple[int, int]]) -> set[int]:
    """For several users at once, ``(user id, step)`` pairs with distinct users: move each user's
    last step forward to ``step`` where it is earlier, in one statement; the ids moved. Inside the
    caller's transaction (a ballot group's), so the code is spent exactly when the ballot commits."""
    if not steps:
        return set()

    def build() -> str:
        last, pk = rawsql.column(User, "totp_last_step"), rawsql.column(User, "id")
        rows = ", ".join(["(%s, %s)"] * len(steps))
        return (
            f"UPDATE {rawsql.table(User)} SET {last} = s.column2 FROM (VALUES {rows}) s"  # noqa: S608
            f" WHERE {rawsql.table(User)}.{pk} = s.column1 AND {rawsql.table(User)}.{last} < s.column2 RETURNING {rawsql.table(User)}.{pk}"
        )

    with rawsql.cursor() as cursor:
        cursor.execute(rawsql.statement(("identity.spend_steps", len(steps)), build), [v for pair in steps for v in pair])
        return {int(row[0]) for row in cursor.fetchall()}


def spend_step(user_id: int, step: int) -> bool:
    """One user's ``spend_steps``: True if this call moved the user's last step forward (the
    conditional update is what makes a code single-use even for two requests in parallel)."""
    return user_id in spend_steps([(user_id, step)])


def start_totp_enrolment(user: User) -> str:
    """Give the user a fresh secret to scan. It becomes active only when a code from it is confirmed."""
    if user.mfa_enrolled:
        raise errors.MfaAlreadyEnrolled()
    secret = totp.new_secret()
    user.totp_secret = secretbox.seal(settings.SECRET_KEY, TOTP_PURPOSE, secret)
    User.objects.filter(pk=user.pk).update(totp_secret=user.totp_secret)
    return secret


def pending_totp_secret(user: User) -> str | None:
    if not user.totp_secret:
        return None
    return secretbox.unseal(settings.SECRET_KEY, TOTP_PURPOSE, user.totp_secret)


def confirm_totp_enrolment(user: User, code: str, *, source_ip: str | None) -> None:
    if user.mfa_enrolled:
        raise errors.MfaAlreadyEnrolled()
    secret = pending_totp_secret(user)
    step = totp.matching_step(secret, code) if secret else None
    if step is None:
        throttle.record_failure(user.username, source_ip)
        record(events.MFA_FAILED, actor=user, obj=user, source_ip=source_ip, details={"stage": "enrolment"})
        raise errors.MfaInvalid()
    with transaction.atomic():
        now = timezone.now()
        User.objects.filter(pk=user.pk).update(totp_confirmed_at=now, totp_last_step=step)
        user.totp_confirmed_at, user.totp_last_step = now, step
        record(events.MFA_ENROLLED, actor=user, obj=user, source_ip=source_ip, details={"method": "totp"})
    throttle.reset_account(user.username)


def reset_mfa(user: User, *, acting_user: User, source_ip: str | None) -> None:
    """Clear a lost authenticator; the user enrols again at the next sign-in. Ends their sessions."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(totp_secret="", totp_confirmed_at=None)
        user.totp_secret, user.totp_confirmed_at = "", None
        record(events.MFA_RESET, actor=acting_user, obj=user, source_ip=source_ip, details={"username": user.username})
        _end_sessions(user)


def begin_pending_login(request: HttpRequest, user: User) -> None:
    """Remember, for a few minutes, who passed the password step in this browser."""
    request.session.cycle_key()
    request.session[SESSION_PENDING_USER] = user.pk
    request.session[SESSION_PENDING_AT] = int(time.time())


def pending_user(request: HttpRequest) -> User | None:
    pk = request.session.get(SESSION_PENDING_USER)
    started = request.session.get(SESSION_PENDING_AT, 0)
    if pk is None or time.time() - started > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pk, is_active=True).first()


def complete_web_login(request: HttpRequest, user: User, *, source_ip: str | None, mfa: bool) -> UserSession:
    """Sign the browser in: a new session key, the policy stamps, a row in the sessions list."""
    with transaction.atomic():
        auth.login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        now = int(time.time())
        request.session.pop(SESSION_PENDING_USER, None)
        request.session.pop(SESSION_PENDING_AT, None)
        request.session[SESSION_LOGIN_AT] = now
        request.session[SESSION_SEEN_AT] = now
        request.session[SESSION_MFA] = mfa
        request.session.save()
        session = UserSession.objects.create(
            user=user,
            session_key=request.session.session_key or "",
            source_ip=source_ip,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )
        record(events.LOGIN_OK, actor=user, obj=user, source_ip=source_ip, details={"channel": "web", "mfa": mfa, "session": session.pk})
        from ecabinet.notify import hooks

        hooks.signed_in(user, user_agent=session.user_agent, session_id=session.pk)
    throttle.reset_account(user.username)
    return session


def logout_web(request: HttpRequest, *, source_ip: str | None) -> None:
    user = request.user
    key = request.session.session_key
    with transaction.atomic():
        if key:
            UserSession.objects.filter(session_key=key, ended_at=None).update(ended_at=timezone.now())
        if user.is_authenticated:
            record(events.LOGOUT, actor=user, obj=user, source_ip=source_ip)
    auth.logout(request)


def expire_session(request: HttpRequest, *, reason: str, source_ip: str | None) -> None:
    user = request.user
    key = request.session.session_key
    if key:
        UserSession.objects.filter(session_key=key, ended_at=None).update(ended_at=timezone.now())
    if user.is_authenticated:
        record(events.SESSION_EXPIRED, actor=user, obj=user, source_ip=source_ip, details={"reason": reason})
    request.session.flush()


def _end_sessions(user: User) -> int:
    now = timezone.now()
    ended = 0
    for key in UserSession.objects.filter(user=user, ended_at=None).values_list("session_key", flat=True):
        _session_store(key).delete()
        ended += 1
    UserSession.objects.filter(user=user, ended_at=None).update(ended_at=now)
    ApiToken.objects.filter(user=user, revoked_at=None).update(revoked_at=now)
    return ended


def sign_out_everywhere(user: User, *, acting_user: User, source_ip: str | None) -> int:
    """End every browser session and revoke every API token of ``user``. Devices stay registered."""
    with transaction.atomic():
        ended = _end_sessions(user)
        record(events.SIGN_OUT_EVERYWHERE, actor=acting_user, obj=user, source_ip=source_ip, details={"sessions": ended})
    return ended


# --- administering people ------------------------------------------------------------------


def _ensure_not_last_admin(user: User) -> None:
    if user.role == Role.ADMIN and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists():
        raise errors.LastAdmin()


def disable_user(user: User, *, acting_user: User, source_ip: str | None) -> None:
    with transaction.atomic():
        _ensure_not_last_admin(user)
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ended = _end_sessions(user)
        record(events.USER_DISABLED, actor=acting_user, obj=user, source_ip=source_ip, details={"sessions": ended})
        # Receivers (the PKI revokes the user's signing certificates) act inside this transaction.
        user_disabled.send(sender=User, user=user, acting_user=acting_user, source_ip=source_ip)


def enable_user(user: User, *, acting_user: User, source_ip: str | None) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        record(events.USER_ENABLED, actor=acting_user, obj=user, source_ip=source_ip)


def change_role(user: User, role: str, *, acting_user: User, source_ip: str | None) -> None:
    if role not in Role.values:
        raise errors.ECabinetError(f"unknown role {role!r}")
    with transaction.atomic():
        if role != Role.ADMIN:
            _ensure_not_last_admin(user)
        old = user.role
        user.role = role
        _sync_admin_flags(user)
        User.objects.filter(pk=user.pk).update(role=role, is_staff=user.is_staff, is_superuser=user.is_superuser)
        record(events.ROLE_CHANGED, actor=acting_user, obj=user, source_ip=source_ip, details={"from": old, "to": role})


def change_clearance(user: User, level: str, *, acting_user: User, source_ip: str | None) -> None:
    try:
        new = Clearance.from_name(level)
    except ValueError as exc:
        raise errors.InvalidLevel(str(exc)) from None
    with transaction.atomic():
        old = Clearance(user.clearance)
        User.objects.filter(pk=user.pk).update(clearance=new)
        user.clearance = new
        record(events.CLEARANCE_CHANGED, actor=acting_user, obj=user, source_ip=source_ip, details={"from": old.key, "to": new.key})


def unlock_login(username: str, *, acting_user: User, source_ip: str | None) -> int:
    """Lift the lock and the delays on an account name (the security officer's action)."""
    with transaction.atomic():
        cleared, _ = LoginThrottle.objects.filter(scope=LoginThrottle.Scope.ACCOUNT, key=throttle.account_key(username)).delete()
        record(events.LOGIN_UNLOCKED, actor=acting_user, source_ip=source_ip, details={"username": username[:150], "cleared": cleared})
    return cleared


# --- devices and bearer tokens ---------------------------------------------------------------


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def register_device(user: User, *, name: str, user_agent: str, source_ip: str | None) -> tuple[Device, str]:
    """Register a native client and give it a bearer token. The raw token is shown once only."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        device = Device.objects.create(user=user, name=name, kind=Device.Kind.APP, user_agent=user_agent[:300], last_seen_at=timezone.now())
        ApiToken.objects.create(
            device=device,
            user=user,
            key_hash=_hash_token(raw),
            prefix=raw[:12],
            expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_DAYS),
        )
        record(events.DEVICE_REGISTERED, actor=user, obj=device, source_ip=source_ip, details={"name": name})
        record(events.LOGIN_OK, actor=user, obj=user, source_ip=source_ip, details={"channel": "api", "device": device.pk, "mfa": user.mfa_enrolled})
        from ecabinet.notify import hooks

        hooks.device_registered(device)
    throttle.reset_account(user.username)
    return device, raw


def revoke_device(device: Device, *, acting_user: User, source_ip: str | None) -> None:
    with transaction.atomic():
        now = timezone.now()
        Device.objects.filter(pk=device.pk, revoked_at=None).update(revoked_at=now)
        ApiToken.objects.filter(device=device, revoked_at=None).update(revoked_at=now)
        device.revoked_at = device.revoked_at or now
        record(events.DEVICE_REVOKED, actor=acting_user, obj=device, source_ip=source_ip, details={"owner": device.user_id, "name": device.name})
        from ecabinet.notify import hooks

        hooks.device_revoked(device, acting_user=acting_user)


def user_for_token(raw: str, *, source_ip: str | None, record_rejection: bool = True) -> User | None:
    """The active user behind a live bearer token, or None (and an audit entry for a known-bad token).

    ``record_rejection=False``: no entry for a known-bad token, for a caller that hands such a
    request on to the API, which then records it (the ballot front door)."""
    return user_and_more_for_token(raw, source_ip=source_ip, record_rejection=record_rejection)[0]


@dataclass(frozen=True)
class AlsoRead:
    """More columns read by the token's statement, to spare a caller a second round trip.

    ``name`` names the statement variant; ``build(*values)`` returns the select-list fragment (it
    may name the user as ``u``) and the FROM fragment (LEFT JOINs), in which ``values`` are the SQL
    expressions standing for ``params``, one each."""

    name: str
    build: Callable[..., tuple[str, str]]
    params: tuple[Any, ...] = ()


def user_and_more_for_token(
    raw: str, *, source_ip: str | None, record_rejection: bool = True, also: AlsoRead | None = None
) -> tuple[User | None, tuple[Any, ...]]:
    """``user_for_token``, and the row's ``also`` columns (empty when no live token was found)."""
    return users_and_more_for_tokens([(raw, source_ip, also)], record_rejection=record_rejection)[0]


def users_and_more_for_tokens(
    requests: Sequence[tuple[str, str | None, AlsoRead | None]], *, record_rejection: bool = True
) -> list[tuple[User | None, tuple[Any, ...]]]:
    """``user_and_more_for_token`` for several requests at once (raw token, source address, also),
    with one statement for all: a batch of device ballots. Every ``also`` is of one variant, or
    None for all. A token may come more than once; each request gets its own answer."""
    answers: list[tuple[User | None, tuple[Any, ...]]] = [(None, ())] * len(requests)
    wanted = [(n, _hash_token(raw), also) for n, (raw, _, also) in enumerate(requests) if raw.startswith(TOKEN_PREFIX) and len(raw) <= 100]
    if not wanted:
        return answers
    now = timezone.now()
    touched: set[int] = set()
    for n, (token, more) in _tokens_with_users(wanted).items():
        source_ip = requests[n][1]
        if token.revoked_at or token.expires_at <= now or token.device.revoked_at or not token.user.is_active:
            if record_rejection:
                record(events.TOKEN_REJECTED, actor=token.user, obj=token.device, source_ip=source_ip, details={"prefix": token.prefix})
            continue
        # Touch at most once a minute: a tablet polling must not turn every read into a write.
        if (token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1)) and token.pk not in touched:
            touched.add(token.pk)
            rawsql.update_by_pk(ApiToken, token.pk, last_used_at=now)
            rawsql.update_by_pk(Device, token.device_id, last_seen_at=now)
        token.user.api_device = token.device  # type: ignore[attr-defined]
        answers[n] = (token.user, more)
    return answers


def _tokens_with_users(wanted: list[tuple[int, str, AlsoRead | None]]) -> dict[int, tuple[ApiToken, tuple[Any, ...]]]:
    """``ApiToken.objects.select_related("user", "device").filter(key_hash=...).first()`` for each
    ``(n, key hash, also)``, by ``n``, in one plain-SQL join: every API request from a device runs
    it (see ``ecabinet.rawsql``). Each request's user is its own instance."""
    also = wanted[0][2]
    width = len(also.params) if also else 0
    if any((a.name if a else None, len(a.params) if a else 0) != (also.name if also else None, width) for _, _, a in wanted):
        raise ValueError("one statement reads one variant of the extra columns")
    key = ("identity.token_with_user", also.name if also else "", width, len(wanted))
    parts, sql = rawsql.statement(key, lambda: _token_statement(also, width, len(wanted)))
    with rawsql.cursor() as cursor:
        cursor.execute(sql, [v for n, key_hash, a in wanted for v in (n, key_hash, *(a.params if a else ()))])
        rows = cursor.fetchall()
    sizes = [len(p) for p in parts]
    ends = [1 + sizes[0], 1 + sizes[0] + sizes[1], 1 + sum(sizes)]
    found = {}
    for row in rows:
        token = rawsql.instance(ApiToken, parts[0], row[1 : ends[0]])
        token.user = rawsql.instance(User, parts[1], row[ends[0] : ends[1]])
        token.device = rawsql.instance(Device, parts[2], row[ends[1] : ends[2]])
        found[int(row[0])] = (token, tuple(row[ends[2] :]))
    return found


def _token_statement(also: AlsoRead | None, width: int, count: int) -> tuple[tuple[list[Any], list[Any], list[Any]], str]:
    # The whole user (the API reads any of it); of the token and device what the checks read.
    parts = (
        rawsql.fields_of(ApiToken, ("id", "device", "user", "prefix", "expires_at", "last_used_at", "revoked_at")),
        rawsql.fields_of(User),
        rawsql.fields_of(Device, ("id", "user", "name", "kind", "revoked_at")),
    )
    # The requests as rows (n, key hash, the extra values): r.column1, r.column2, r.column3 …
    columns, joins = also.build(*(f"r.column{3 + i}" for i in range(width))) if also else ("", "")
    rows = ", ".join(["(" + ", ".join(["%s"] * (2 + width)) + ")"] * count)
    t, c = rawsql.table, rawsql.column
    sql = (
        f"SELECT r.column1, {rawsql.column_list(ApiToken, parts[0], 't')}, {rawsql.column_list(User, parts[1], 'u')},"  # noqa: S608
        f" {rawsql.column_list(Device, parts[2], 'd')}"
        + (f", {columns}" if columns else "")
        + f" FROM (VALUES {rows}) r JOIN {t(ApiToken)} t ON t.{c(ApiToken, 'key_hash')} = r.column2"
        f" JOIN {t(User)} u ON u.{c(User, 'id')} = t.{c(ApiToken, 'user')}"
        f" JOIN {t(Device)} d ON d.{c(Device, 'id')} = t.{c(ApiToken, 'device')} {joins}"
    )
    return parts, sql
