"""Every change to polls and ballots: create, open, cast, close (by the chair or at the deadline).

A ballot is checked in full (step-up code, canonical form, signature, certificate path and
revocation *now*, owner, question hash, choice) before any lock is taken; ballots that arrive
together (``cast_ballots``, a batch from the front door) share one read of what those checks
need. Then it joins the next
group of ballots (``_writer``): one short transaction takes the audit chain's lock, reads in one
statement, for every ballot of the group, whether the voter is eligible, the poll open, the
voter's counted ballot (if any) and whether the nonce or hash is stored, and the chain's head;
appends each ballot's hash (or its refusal) to the audit log and stores each ballot with its
entry's sequence number. Closing takes the same lock before counting, so no ballot commits after
the count. When that transaction has committed the ballot is durable; only then is the receipt
(hash + audit seq) returned. A refused ballot leaves one audit entry and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from ecabinet import rawsql
from ecabinet.audit import errors as audit_errors
from ecabinet.audit import events as audit_events
from ecabinet.audit import signing
from ecabinet.audit.actions import build_entry, lock_chain, record
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.errors import ECabinetError, Forbidden, InvalidInput
from ecabinet.identity import actions as identity_actions
from ecabinet.identity import errors as identity_errors
from ecabinet.identity import throttle
from ecabinet.identity.models import LoginThrottle, Role, User
from ecabinet.meetings import broadcast
from ecabinet.meetings.models import AgendaItem, Meeting, Participant
from ecabinet.pki import errors as pki_errors
from ecabinet.pki.core import ca as ca_core
from ecabinet.pki.core import cms as cms_core
from ecabinet.pki.core.errors import PkiCoreError
from ecabinet.pki.models import MemberCertificate
from ecabinet.voting import errors, events, live_push, permissions, trust
from ecabinet.voting.core import ballot as ballot_core
from ecabinet.voting.core import groupcommit
from ecabinet.voting.core import tally as tally_core
from ecabinet.voting.core.canonical import canonicalize
from ecabinet.voting.core.errors import BallotMalformed
from ecabinet.voting.models import Ballot, Poll, PollVoter
from ecabinet.web import metrics

log = logging.getLogger(__name__)

RESULT_FORMAT = "ecabinet-poll-result/1"
_OPTION_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")


# --- creating and opening ---------------------------------------------------------------------


def _options(options: Sequence[tuple[str, str]] | None) -> list[ballot_core.Option]:
    if options is None:
        return [ballot_core.Option(k, label) for k, label in tally_core.STANDARD_OPTIONS]
    parsed = [ballot_core.Option(str(k).strip(), str(label).strip()) for k, label in options]
    if not 2 <= len(parsed) <= 20:
        raise errors.PollInvalid("A poll has between 2 and 20 options.")
    keys = [o.key for o in parsed]
    if len(set(keys)) != len(keys) or not all(_OPTION_KEY.match(k) for k in keys):
        raise errors.PollInvalid("Option keys are unique, 1-64 characters of a-z, 0-9, '_' and '-'.")
    if not all(0 < len(o.label) <= 200 for o in parsed):
        raise errors.PollInvalid("Every option needs a label of at most 200 characters.")
    if not [k for k in keys if k != tally_core.ABSTAIN]:
        raise errors.PollInvalid("A poll needs at least one option other than abstaining.")
    return parsed


def _check_common(question: str, rule: str, quorum: tuple[int, int]) -> None:
    if not question.strip() or len(question) > 2000:
        raise errors.PollInvalid("The question is required (at most 2000 characters).")
    if rule not in tally_core.RULES:
        raise errors.PollInvalid(f"The majority rule is one of {', '.join(tally_core.RULES)}.")
    numerator, denominator = quorum
    if denominator < 1 or numerator < 0 or numerator > denominator or denominator > 1000:
        raise errors.PollInvalid("The quorum is a fraction n/d of the eligible members with 0 <= n <= d.")


def _item_voters(item: AgendaItem, classification: int) -> list[User]:
    meeting = item.meeting
    ids = set(Participant.objects.filter(meeting=meeting, kind=Participant.Kind.MEMBER).values_list("user_id", flat=True))
    ids.add(meeting.chair_id)
    return list(User.objects.filter(pk__in=ids, is_active=True, clearance__gte=classification).order_by("pk"))


def _consultation_voters(voter_ids: Sequence[int], government_id: int, classification: int) -> list[User]:
    if not voter_ids:
        raise errors.PollInvalid("A written consultation names its voters.")
    users = list(User.objects.select_related("organisation").filter(pk__in=set(voter_ids)).order_by("pk"))
    if len(users) != len(set(voter_ids)):
        raise errors.PollInvalid("Some voters do not exist.")
    for user in users:
        gov = user.organisation.government.pk if user.organisation else None
        if gov != government_id or not user.is_active or user.role not in (Role.MEMBER, Role.CHAIR) or user.clearance < classification:
            raise errors.PollInvalid(f"{user.username} cannot vote in this consultation (government, role, clearance or account state).")
    return users


def _statement(poll: Poll) -> dict[str, Any]:
    return ballot_core.poll_statement(
        poll_id=poll.pk,
        question=poll.question,
        options=[ballot_core.Option(o["key"], o["label"]) for o in poll.options],
        rule=poll.rule,
        quorum=poll.quorum,
        allow_change=poll.allow_change,
        meeting_id=poll.meeting_id,
        item_id=poll.item_id,
    )


def create_poll(
    *,
    question: str,
    item: AgendaItem | None = None,
    voter_ids: Sequence[int] = (),
    deadline: datetime | None = None,
    options: Sequence[tuple[str, str]] | None = None,
    rule: str = "simple",
    quorum: tuple[int, int] = (1, 2),
    allow_change: bool = False,
    results_public: bool = False,
    description: str = "",
    classification: int | None = None,
    acting_user: User,
    source_ip: str | None = None,
) -> Poll:
    """A poll on an agenda item (voters: the meeting's members and its chair) or, without an item,
    a written consultation with a deadline and chosen voters. It starts as a draft."""
    _check_common(question, rule, quorum)
    parsed = _options(options)
    if item is not None:
        if not permissions.can_create_item_poll(acting_user, item):
            raise (
                errors.PollNotFound()
                if not permissions.meeting_permissions.can_see_item(acting_user, item)
                else Forbidden("Only the chair or an office secretary runs votes.")
            )
        if item.status != AgendaItem.Status.ACCEPTED:
            raise errors.PollInvalid("Only an accepted agenda item can be put to the vote.")
        meeting = item.meeting
        level = max(meeting.classification, item.classification)
        government = meeting.organisation.government
        voters = _item_voters(item, level)
        kind = Poll.Kind.ITEM
    else:
        if not permissions.can_create_consultation(acting_user):
            raise Forbidden("Only the chair or an office secretary starts a written consultation.")
        if deadline is None or deadline <= timezone.now():
            raise errors.PollInvalid("A written consultation needs a deadline in the future.")
        meeting = None
        government = acting_user.organisation.government  # type: ignore[union-attr]
        level = int(classification if classification is not None else 1)
        if level > acting_user.clearance:
            raise errors.PollInvalid("You cannot classify a consultation above your own clearance.")
        voters = _consultation_voters(voter_ids, government.pk, level)
        kind = Poll.Kind.CONSULTATION
    if not voters:
        raise errors.PollInvalid("Nobody would be eligible to vote.")
    with transaction.atomic():
        poll = Poll.objects.create(
            organisation=government,
            kind=kind,
            meeting=meeting,
            item=item,
            question=question.strip(),
            description=description,
            options=[{"key": o.key, "label": o.label} for o in parsed],
            rule=rule,
            quorum_numerator=quorum[0],
            quorum_denominator=quorum[1],
            allow_change=allow_change,
            results_public=results_public,
            classification=level,
            deadline=deadline,
            statement={},
            statement_sha256="",
            created_by=acting_user,
        )
        poll.statement = _statement(poll)
        poll.statement_sha256 = ballot_core.statement_sha256(poll.statement)
        Poll.objects.filter(pk=poll.pk).update(statement=poll.statement, statement_sha256=poll.statement_sha256)
        PollVoter.objects.bulk_create([PollVoter(poll=poll, user=u) for u in voters])
        record(
            events.POLL_CREATED,
            actor=acting_user,
            obj=poll,
            source_ip=source_ip,
            details={"kind": kind, "question_sha256": poll.statement_sha256, "voters": [u.pk for u in voters], "item": poll.item_id},
        )
    return poll


def _locked(poll: Poll) -> Poll:
    return Poll.objects.select_for_update(of=("self",)).get(pk=poll.pk)


def publish_live(poll: Poll, kind: str, data: dict[str, Any]) -> None:
    if poll.meeting_id is not None:
        broadcast.publish(poll.meeting_id, kind, {"poll": poll.pk, **data}, min_level=poll.classification, item_id=poll.item_id)


def open_poll(poll: Poll, *, acting_user: User, source_ip: str | None = None) -> Poll:
    if not permissions.can_manage_poll(acting_user, poll):
        raise Forbidden("Only the chair or an office secretary opens a vote.")
    with transaction.atomic():
        fresh = _locked(poll)
        if fresh.state != Poll.State.DRAFT:
            raise errors.PollWrongState("Only a draft poll can be opened.", state=fresh.state)
        if fresh.kind == Poll.Kind.ITEM and (
            fresh.meeting_id is None or Meeting.objects.filter(pk=fresh.meeting_id, state=Meeting.State.IN_SESSION).count() == 0
        ):
            raise errors.PollWrongState("A vote on an agenda item opens while the meeting is in session.", state=fresh.state)
        if fresh.deadline is not None and fresh.deadline <= timezone.now():
            raise errors.PollWrongState("The deadline has already passed.", state=fresh.state)
        now = timezone.now()
        Poll.objects.filter(pk=fresh.pk).update(state=Poll.State.OPEN, opened_at=now, opened_by=acting_user)
        poll.state, poll.opened_at, poll.opened_by = Poll.State.OPEN, now, acting_user
        record(
            events.POLL_OPENED, actor=acting_user, obj=poll, source_ip=source_ip, details={"deadline": fresh.deadline.isoformat() if fresh.deadline else None}
        )
        from ecabinet.notify import hooks

        hooks.poll_opened(poll, acting_user=acting_user)
        publish_live(
            poll, events.LIVE_OPENED, {"question": poll.question, "options": poll.options, "deadline": poll.deadline.isoformat() if poll.deadline else None}
        )
        if fresh.deadline is not None:
            from ecabinet.voting import tasks

            deadline_poll = fresh.pk
            transaction.on_commit(lambda: tasks.close_poll_at_deadline.apply_async(args=[deadline_poll], eta=fresh.deadline))
    return poll


# --- ballots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    ballot: Ballot

    def as_dict(self) -> dict[str, Any]:
        return receipt_for(self.ballot)


def _decode(value: str | bytes | None, what: str) -> bytes | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BallotMalformed(f"'{what}' is not base64.") from None


def _pki(exc: PkiCoreError) -> ECabinetError:
    return pki_errors.from_core(exc)


def _signer_certificate(
    parsed: ballot_core.Ballot, signature: bytes | None, p7s: bytes | None, *, registered: MemberCertificate | None
) -> tuple[x509.Certificate, bytes, MemberCertificate | None]:
    """The certificate whose key made the signature over the ballot bytes, the DER signature, and
    the registered certificate row (a bare signature names its certificate). ``registered``: the
    row of the certificate the ballot names, as just read (None: none is registered)."""
    if p7s is not None:
        try:
            envelope = cms_core.verify_detached_signed_data(p7s, parsed.data)
        except PkiCoreError as exc:
            raise _pki(exc) from None
        cert = envelope.certificate
        if ca_core.fingerprint(cert) != parsed.certificate_sha256:
            raise errors.CertificateMismatch()
        return cert, envelope.signature, None
    if signature is None:
        raise errors.BallotMalformed("Send the signature (DER or raw r||s, base64) or a detached CMS envelope.")
    record_ = registered
    if record_ is None:
        raise pki_errors.CertificateUntrusted("The ballot names a certificate this installation has not issued or registered.")
    cert = trust.load_certificate(record_.certificate_pem)
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise pki_errors.SignatureMalformed("Ballot certificates hold ECDSA keys.")
    try:
        der = _der(signature)
        cms_core.verify_signature(parsed.data, der, public_key)
    except PkiCoreError as exc:
        raise _pki(exc) from None
    return cert, der, record_


def _refuse(poll: Poll | None, *, code: str, sha256: str, acting_user: Any, source_ip: str | None) -> None:
    record(
        events.BALLOT_REFUSED,
        actor=acting_user,
        object_type="voting.poll",
        object_id=str(poll.pk) if poll else "",
        source_ip=source_ip,
        details={"code": code, "poll": poll.pk if poll else None, "ballot_sha256": sha256},
    )


@dataclass
class BallotRequest:
    """One signed ballot as its client sent it, for ``cast_ballots``."""

    poll: Poll
    acting_user: User
    ballot: str | bytes
    signature: str | bytes | None = None
    cms: str | bytes | None = None
    totp: str | None = None
    source_ip: str | None = None


def cast_ballot(
    poll: Poll,
    *,
    ballot: str | bytes,
    signature: str | bytes | None = None,
    cms: str | bytes | None = None,
    totp: str | None,
    acting_user: User,
    source_ip: str | None = None,
) -> Ballot:
    """Verify and store one signed ballot; return it (its ``sha256`` and ``audit_seq`` are the receipt)."""
    outcome = cast_ballots([BallotRequest(poll, acting_user, ballot, signature=signature, cms=cms, totp=totp, source_ip=source_ip)])[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def cast_ballots(requests: Sequence[BallotRequest]) -> list[Ballot | Exception]:
    """Verify and store several signed ballots (a batch of device requests, or one); each gets its
    own outcome, in order: the stored ballot, or what refused it (an ``ECabinetError``, answered as
    the API answers it, with its audit entry; any other exception is a fault of that ballot alone).

    Everything that needs no lock is checked here, in the caller's thread, with one statement
    reading what the checks need for every ballot (``_first_reads``); the ballots that pass then
    join the next group written under the audit chain's lock (``_writer``), and this returns once
    that group has committed. Inside a caller's open transaction (a test, a command) they are
    written in it, since another thread's group could not see that transaction's rows.
    """
    outcomes: list[Ballot | Exception | None] = [None] * len(requests)
    hashes: list[str] = []
    entered: list[tuple[int, ballot_core.Ballot | None, BallotMalformed | None]] = []
    for n, request in enumerate(requests):
        data = request.ballot.encode("utf-8") if isinstance(request.ballot, str) else bytes(request.ballot)
        hashes.append(hashlib.sha256(data).hexdigest())
        if not request.totp:
            outcomes[n] = errors.StepUpRequired()
            continue
        try:
            entered.append((n, ballot_core.parse_ballot(data), None))
        except BallotMalformed as exc:
            entered.append((n, None, exc))
    reads = _first_reads([(requests[n].acting_user, requests[n].source_ip, parsed.certificate_sha256 if parsed else "") for n, parsed, _ in entered])
    pending: list[tuple[int, _PendingBallot]] = []
    for (n, parsed, malformed), read in zip(entered, reads, strict=True):
        request = requests[n]
        try:
            pending.append((n, _checked(request, parsed=parsed, malformed=malformed, reads=read)))
        except Exception as exc:  # each ballot's fault is its own; the caller answers it
            outcomes[n] = exc
    for n, request in enumerate(requests):
        refusal = outcomes[n]
        if isinstance(refusal, ECabinetError):
            _refuse(request.poll, code=refusal.code, sha256=hashes[n], acting_user=request.acting_user, source_ip=request.source_ip)
    items = [item for _, item in pending]
    try:
        if transaction.get_connection().in_atomic_block:
            _write_ballots(items)
        else:
            _writer.submit_many(items)
    finally:
        for item in items:
            item.settle_step()
    for n, item in pending:
        try:
            stored = item.outcome()
        except Exception as exc:  # as above
            outcomes[n] = exc
        else:
            assert isinstance(stored, Ballot)
            outcomes[n] = stored
    return outcomes  # type: ignore[return-value]  # every request has its outcome by now


class _PendingBallot(groupcommit.Item):
    """A ballot that passed every check that needs no lock, waiting for its group. Its step-up code
    is spent by the group, in the transaction that stores the ballot (``step_spent`` then says so)."""

    def __init__(
        self,
        poll: Poll,
        *,
        user: User,
        parsed: ballot_core.Ballot,
        signature: bytes,
        certificate: MemberCertificate,
        source_ip: str | None,
        step: identity_actions.StepUp | None,
    ) -> None:
        super().__init__()
        self.poll, self.user, self.parsed, self.signature = poll, user, parsed, signature
        self.certificate, self.source_ip, self.step = certificate, source_ip, step
        self.step_spent = False

    def reset(self) -> None:
        self.result, self.error, self.step_spent = None, None, False

    def settle_step(self) -> None:
        """After the group: the spent code's follow-up, or the replay's failure count."""
        if self.step is None:
            return
        if self.step_spent:
            self.step.spent()
        elif isinstance(self.error, identity_errors.MfaInvalid):
            throttle.record_failure(self.user.username, self.source_ip)


@dataclass
class _FirstReads:
    """What the checks outside the lock read, in one statement (``_first_reads``)."""

    certificate: MemberCertificate | None
    throttle_rows: list[LoginThrottle]
    trust_version: tuple[object, ...]


def _first_reads(wanted: Sequence[tuple[User, str | None, str]]) -> list[_FirstReads]:
    """For each ``(voter, source address, certificate fingerprint)``: the certificate the ballot
    names, the sign-in throttle's rows for the voter and the address, and the trust version; in one
    plain-SQL statement for all of them (a batch of ballots), not three round trips each."""
    if not wanted:
        return []
    cert_fields, throttle_fields, sql = rawsql.statement(("voting.first_reads", len(wanted)), lambda: _first_reads_statement(len(wanted)))
    values: list[Any] = []
    for n, (user, source_ip, fingerprint) in enumerate(wanted):
        (account_scope, account_key), *address = throttle.keys(user.username, source_ip)
        address_scope, address_key = address[0] if address else (LoginThrottle.Scope.ADDRESS, None)
        values += [n, fingerprint, account_scope, account_key, address_scope, address_key]
    with rawsql.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    n_cert, n_throttle = len(cert_fields), len(throttle_fields)
    versions = 1 + n_cert + 2 * n_throttle
    by_request: dict[int, list[Any]] = {}
    for row in rows:
        by_request.setdefault(int(row[0]), []).append(row)
    reads = []
    for n in range(len(wanted)):
        first = by_request[n][0]
        certificate = rawsql.instance(MemberCertificate, cert_fields, first[1 : 1 + n_cert]) if first[1] is not None else None
        throttle_rows = [
            rawsql.instance(LoginThrottle, throttle_fields, first[start : start + n_throttle])
            for start in (1 + n_cert, 1 + n_cert + n_throttle)
            if first[start] is not None
        ]
        trust_version = tuple(tuple(row[versions:]) for row in by_request[n] if row[versions] is not None)
        reads.append(_FirstReads(certificate=certificate, throttle_rows=throttle_rows, trust_version=trust_version))
    return reads


def _first_reads_statement(count: int) -> tuple[list[Any], list[Any], str]:
    t, c = rawsql.table, rawsql.column
    # What the checks read of the certificate's row; the rest is deferred (loaded if read).
    cert_fields = rawsql.fields_of(MemberCertificate, ("id", "user", "fingerprint", "certificate_pem", "revoked_at", "revocation_reason"))
    throttle_fields = rawsql.fields_of(LoginThrottle, throttle.ROW_FIELDS)
    scope, key = c(LoginThrottle, "scope"), c(LoginThrottle, "key")
    # One row per request (n, fingerprint, account scope and key, address scope and key), times one
    # per active authority for the trust version.
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * count)
    sql = (
        f"SELECT r.column1, {rawsql.column_list(MemberCertificate, cert_fields, 'c')}, {rawsql.column_list(LoginThrottle, throttle_fields, 'ta')},"  # noqa: S608
        f" {rawsql.column_list(LoginThrottle, throttle_fields, 'tb')}, v.*"
        f" FROM (VALUES {rows}) r LEFT JOIN {t(MemberCertificate)} c ON c.{c(MemberCertificate, 'fingerprint')} = r.column2"
        f" LEFT JOIN {t(LoginThrottle)} ta ON ta.{scope} = r.column3 AND ta.{key} = r.column4"
        f" LEFT JOIN {t(LoginThrottle)} tb ON tb.{scope} = r.column5 AND tb.{key} = r.column6"
        f" LEFT JOIN ({trust.version_select()}) v ON 1 = 1 ORDER BY r.column1, v.v_authority"
    )
    return cert_fields, throttle_fields, sql


def _checked(request: BallotRequest, *, parsed: ballot_core.Ballot | None, malformed: BallotMalformed | None, reads: _FirstReads) -> _PendingBallot:
    """The checks that need no lock, for a ballot with a step-up code (parsed, or ``malformed``)."""
    poll, acting_user, source_ip = request.poll, request.acting_user, request.source_ip
    assert request.totp
    # The step-up first: the code is single-use, so it is spent even if the ballot is then refused
    # here; if the ballot passes, its group spends it with the ballot's own write.
    step = identity_actions.totp_step(acting_user, request.totp.strip(), source_ip=source_ip, throttle_rows=reads.throttle_rows)
    try:
        if malformed is not None or parsed is None:
            raise errors.BallotMalformed(str(malformed)) from None
        if parsed.poll != poll.pk:
            raise errors.BallotWrongPoll(f"The ballot is for poll {parsed.poll}, not {poll.pk}.")
        cert, signature_der, member_cert = _signer_certificate(
            parsed, _decode(request.signature, "signature"), _decode(request.cms, "cms"), registered=reads.certificate
        )
        member_cert = trust.check_member_certificate(cert, at=timezone.now(), record=member_cert or reads.certificate, version=reads.trust_version)
        if member_cert.user_id != acting_user.pk or parsed.voter != acting_user.pk:
            raise errors.VoterMismatch()
        if parsed.question_sha256 != poll.statement_sha256:
            raise errors.QuestionChanged()
        if parsed.choice not in poll.option_keys:
            raise errors.ChoiceInvalid(f"{parsed.choice!r} is not one of {', '.join(poll.option_keys)}.")
    except ECabinetError:
        if not identity_actions.spend_step(acting_user.pk, step.step):
            identity_actions.refuse_spent_step(acting_user, source_ip=source_ip)  # a replayed code is what is refused
        step.spent()
        raise
    return _PendingBallot(poll, user=acting_user, parsed=parsed, signature=signature_der, certificate=member_cert, source_ip=source_ip, step=step)


def _write_ballots(group: Sequence[_PendingBallot]) -> None:
    """Write a group: in rounds where no two ballots share a voter's poll, a nonce or a hash (so the
    ballots of one round cannot refuse each other), each round one transaction.

    A unique column refusing a round's insert (a replay the read under the lock could not see) rolls
    the round back; its ballots are then written one by one, and the one the database refuses gets
    ``NonceReplayed`` and a refusal entry of its own, as a single ballot always did.
    """
    rounds: list[tuple[list[_PendingBallot], set[tuple[Any, ...]]]] = []
    for item in group:
        # One user's ballots (one poll or several) go in successive rounds: each spends that user's
        # step-up code, and a round spends all its codes with one update.
        keys = {("user", item.user.pk), ("nonce", item.parsed.nonce), ("sha", item.parsed.sha256)}
        for round_, taken in rounds:
            if not keys & taken:
                round_.append(item)
                taken |= keys
                break
        else:
            rounds.append(([item], keys))
    for round_, _ in rounds:
        metrics.BALLOT_GROUPS.inc()
        metrics.BALLOTS_GROUPED.inc(len(round_))
        try:
            _write_round(round_)
        except IntegrityError:
            for item in round_:
                item.reset()
                try:
                    _write_round([item])
                except IntegrityError:
                    item.reset()
                    item.error = errors.NonceReplayed()
                    # The round that would have spent its code was rolled back: spend it here, as
                    # for any refused ballot (a code spent meanwhile leaves nothing to spend).
                    item.step_spent = item.step is not None and identity_actions.spend_step(item.user.pk, item.step.step)
                    _refuse(item.poll, code=item.error.code, sha256=item.parsed.sha256, acting_user=item.user, source_ip=item.source_ip)


def _write_round(items: Sequence[_PendingBallot]) -> None:
    """One transaction: the chain's lock, one read of everything the decisions need, then every
    ballot's audit entry (cast or refused) with one insert, and the ballots with another.

    The audit chain's lock is the one lock: ballots of every poll append to the one chain, so they
    are serialised by it anyway. Closing takes it too before it counts (see close_poll), so a
    ballot either commits before the count reads the ballots or finds the poll closed.

    If the transaction does not commit, no ballot of the round keeps a result or an error: an
    answer may only say "stored" or "refused" for what the database holds.
    """
    try:
        _decide_and_write(items)
    except BaseException:
        for item in items:
            item.reset()
        raise


def _decide_and_write(items: Sequence[_PendingBallot]) -> None:
    with transaction.atomic():
        lock_chain()
        received = timezone.now()
        spent = identity_actions.spend_steps([(item.user.pk, item.step.step) for item in items if item.step is not None])
        polls, eligible, previous, seen, head = _round_state(items)
        entries: list[AuditEntry] = []
        ballots: list[Ballot] = []
        superseded: list[int] = []
        for item in items:
            poll, user, parsed = item.poll, item.user, item.parsed
            try:
                if item.step is not None:
                    item.step_spent = user.pk in spent
                    if not item.step_spent:  # its code was spent in parallel since it was checked: a replay
                        entries.append(
                            build_entry(audit_events.MFA_REPLAYED, after=head, actor=user, obj=user, source_ip=item.source_ip, details={"stage": "totp"})
                        )
                        head = (entries[-1].seq, entries[-1].entry_hash)
                        raise identity_errors.MfaInvalid()
                now_poll = polls.get(poll.pk)
                if now_poll is None:
                    raise errors.PollNotFound()
                if (poll.pk, user.pk) not in eligible:
                    raise errors.NotEligible()
                if now_poll.state != Poll.State.OPEN or (now_poll.deadline is not None and now_poll.deadline <= received):
                    raise errors.PollNotOpen(state=now_poll.state)
                before = previous.get((poll.pk, user.pk))
                if before is not None and not now_poll.allow_change:
                    raise errors.AlreadyVoted()
                if parsed.nonce in seen or parsed.sha256 in seen:
                    raise errors.NonceReplayed()
            except ECabinetError as exc:
                item.error = exc
                entry = build_entry(
                    events.BALLOT_REFUSED,
                    after=head,
                    actor=user,
                    object_type="voting.poll",
                    object_id=str(poll.pk),
                    source_ip=item.source_ip,
                    details={"code": exc.code, "poll": poll.pk, "ballot_sha256": parsed.sha256},
                )
            else:
                entry = build_entry(
                    events.BALLOT_CAST,
                    after=head,
                    actor=user,
                    object_type="voting.ballot",
                    object_id=parsed.sha256,
                    source_ip=item.source_ip,
                    details={
                        "ballot_sha256": parsed.sha256,
                        "poll": poll.pk,
                        "voter": user.pk,
                        "choice": parsed.choice,
                        "certificate_sha256": parsed.certificate_sha256,
                        "supersedes": before,
                    },
                )
                if before is not None:
                    superseded.append(before)
                item.result = Ballot(
                    poll=poll,
                    voter=user,
                    certificate=item.certificate,
                    data=parsed.data,
                    signature=item.signature,
                    sha256=parsed.sha256,
                    nonce=parsed.nonce,
                    choice=parsed.choice,
                    client_time=parsed.client_time,
                    received_at=received,
                    audit_seq=entry.seq,
                    counted=True,
                )
                ballots.append(item.result)
            entries.append(entry)
            head = (entry.seq, entry.entry_hash)
        if superseded:
            Ballot.objects.filter(pk__in=superseded).update(counted=False)
        rawsql.insert(AuditEntry, entries)
        rawsql.insert(Ballot, ballots)
        # Counted after commit, so the figure includes these ballots and costs nothing inside the
        # lock; pushes are coalesced per poll (live_push), the last one always goes out.
        for poll_id in sorted({b.poll_id for b in ballots if b.poll.meeting_id is not None}):
            transaction.on_commit(partial(live_push.ballot_cast, poll_id))


def _round_state(
    items: Sequence[_PendingBallot],
) -> tuple[dict[int, Poll], set[tuple[int, int]], dict[tuple[int, int], int], set[str], tuple[int | None, str | None]]:
    """Under the chain lock, what the round's decisions need, in one plain-SQL statement whatever
    the round's size: for each ballot (a round holds one per voter and poll), its poll's state,
    deadline and rule on changes, whether the voter is eligible, the voter's counted ballot, and
    whether its nonce or hash is already stored; and the chain's head.

    Returned as: the polls by id, the eligible (poll, voter) pairs, the counted ballot's id by
    (poll, voter), the nonces and hashes already stored, and the head (seq, hash)."""
    fields, sql = rawsql.statement(("voting.round_state", len(items)), lambda: _round_statement(len(items)))
    values = [v for item in items for v in (item.poll.pk, item.user.pk, item.parsed.nonce, item.parsed.sha256)]
    with rawsql.cursor() as cursor:
        cursor.execute(sql, [True, *values])
        rows = cursor.fetchall()
    polls: dict[int, Poll] = {}
    eligible: set[tuple[int, int]] = set()
    previous: dict[tuple[int, int], int] = {}
    seen: set[str] = set()
    head: tuple[int | None, str | None] = (None, None)
    by_pair = {(item.poll.pk, item.user.pk): item for item in items}
    for row in rows:
        poll_id, voter_id = int(row[0]), int(row[1])
        if row[2] is not None:  # the poll exists (its first column is never null)
            polls[poll_id] = rawsql.instance(Poll, fields, (poll_id, *row[2:5]))
        if row[5]:
            eligible.add((poll_id, voter_id))
        if row[6] is not None:
            previous[(poll_id, voter_id)] = int(row[6])
        if row[7]:
            item = by_pair[(poll_id, voter_id)]
            seen |= {item.parsed.nonce, item.parsed.sha256}
        if row[8] is not None:
            head = (int(row[8]), str(row[9]))
    return polls, eligible, previous, seen, head


def _round_statement(items: int) -> tuple[list[Any], str]:
    t, c = rawsql.table, rawsql.column
    fields = rawsql.fields_of(Poll, ("id", "state", "deadline", "allow_change"))
    assert fields[0].name == "id"  # the id comes from pv, the rest from the poll row
    rows = ", ".join(["(%s, %s, %s, %s)"] * items)
    audit_head = f"FROM {t(AuditEntry)} ORDER BY {c(AuditEntry, 'seq')} DESC LIMIT 1"
    sql = (
        f"SELECT pv.column1, pv.column2, {rawsql.column_list(Poll, fields[1:], 'p')},"  # noqa: S608 - the poll's columns in the model's order, as instance() reads them
        f" EXISTS(SELECT 1 FROM {t(PollVoter)} v WHERE v.{c(PollVoter, 'poll')} = pv.column1 AND v.{c(PollVoter, 'user')} = pv.column2),"
        f" (SELECT b.{c(Ballot, 'id')} FROM {t(Ballot)} b WHERE b.{c(Ballot, 'poll')} = pv.column1 AND b.{c(Ballot, 'voter')} = pv.column2"
        f" AND b.{c(Ballot, 'counted')} = %s LIMIT 1),"
        f" EXISTS(SELECT 1 FROM {t(Ballot)} r WHERE r.{c(Ballot, 'nonce')} = pv.column3 OR r.{c(Ballot, 'sha256')} = pv.column4),"
        f" (SELECT {c(AuditEntry, 'seq')} {audit_head}), (SELECT {c(AuditEntry, 'entry_hash')} {audit_head})"
        f" FROM (VALUES {rows}) pv LEFT JOIN {t(Poll)} p ON p.{c(Poll, 'id')} = pv.column1"
    )
    return fields, sql


_writer: groupcommit.GroupCommit[_PendingBallot] = groupcommit.GroupCommit(_write_ballots)


def _der(signature: bytes) -> bytes:
    """WebCrypto gives r||s (64 bytes); ``ecabinet-sign`` and the tablet page send DER."""
    if len(signature) == 64:
        try:
            r, s = decode_dss_signature(signature)
            if encode_dss_signature(r, s) == signature:
                return signature
        except ValueError:
            pass
        return cms_core.raw_to_der(signature)
    return signature


def live_results(poll: Poll, *, public_only: bool = False) -> dict[str, Any]:
    """Turnout for everyone; the counts per option too unless only what all may see is asked for."""
    counted = Ballot.objects.filter(poll=poll, counted=True)
    data: dict[str, Any] = {"cast": counted.count(), "eligible": poll.voters.count(), "state": poll.state}
    if not public_only or poll.results_public:
        counts = {key: 0 for key in poll.option_keys}
        for row in counted.values("choice").annotate(n=Count("pk")):
            counts[row["choice"]] = row["n"]
        data["counts"] = counts
    return data


def receipt_for(ballot: Ballot, *, just_stored: bool = False) -> dict[str, Any]:
    """The ballot's hash and audit seq, and the inclusion proof once a signed checkpoint covers it.

    ``just_stored``: the answer to the ballot's own request. A checkpoint covers only entries that
    existed when it was signed, and this ballot's entry has only just committed, so there is no
    proof yet and nothing to ask the database; the receipt endpoint gives the proof later.
    """
    from ecabinet.audit import proofs

    proof = None
    status = "pending_checkpoint"
    covered = not just_stored and Checkpoint.objects.filter(size__gt=ballot.audit_seq).exists()
    if covered:
        try:
            proof = proofs.inclusion_bundle(ballot.audit_seq)
            status = "included"
        except (audit_errors.NotYetCheckpointed, audit_errors.NoCheckpoint):
            pass
    return {
        "poll": ballot.poll_id,
        "ballot_sha256": ballot.sha256,
        "audit_seq": ballot.audit_seq,
        "received_at": ballot.received_at,
        "counted": ballot.counted,
        "status": status,
        "proof": proof,
    }


# --- closing ----------------------------------------------------------------------------------


def result_document(poll: Poll, *, closed_at: datetime, closed_by: User | None) -> dict[str, Any]:
    ballots = list(Ballot.objects.filter(poll=poll).order_by("audit_seq").values("voter_id", "choice", "sha256", "audit_seq", "received_at", "counted"))
    cast = [tally_core.CastBallot(voter=b["voter_id"], choice=b["choice"], order=b["audit_seq"], sha256=b["sha256"]) for b in ballots]
    counted, _ = tally_core.counted_ballots(cast)
    eligible = sorted(poll.voters.values_list("user_id", flat=True))
    outcome = tally_core.tally(option_keys=poll.option_keys, choices=[b.choice for b in counted], eligible=len(eligible), rule=poll.rule, quorum=poll.quorum)
    counted_hashes = {b.sha256 for b in counted}
    return {
        "format": RESULT_FORMAT,
        "poll": poll.pk,
        "question_sha256": poll.statement_sha256,
        "statement": poll.statement,
        "eligible": eligible,
        "ballots": [
            {
                "voter": b["voter_id"],
                "choice": b["choice"],
                "ballot_sha256": b["sha256"],
                "audit_seq": b["audit_seq"],
                "received_at": ballot_core.utc_text(b["received_at"]),
                "counted": b["sha256"] in counted_hashes,
            }
            for b in ballots
        ],
        "tally": outcome,
        "opened_at": ballot_core.utc_text(poll.opened_at) if poll.opened_at else None,
        "closed_at": ballot_core.utc_text(closed_at),
        "closed_by": closed_by.pk if closed_by is not None else None,
        "signer": signing.signer_name(),
    }


def close_poll(poll: Poll, *, acting_user: User | None, source_ip: str | None = None, at_deadline: bool = False) -> Poll:
    """Count, apply the rule, sign the result with the installation's Ed25519 key, and close.

    ``acting_user=None`` with ``at_deadline`` is the deadline task: it does nothing before the
    deadline or on a poll already closed, so it can run any number of times.
    """
    if acting_user is not None and not permissions.can_manage_poll(acting_user, poll):
        raise Forbidden("Only the chair or an office secretary closes a vote.")
    key = signing.private_key()
    with transaction.atomic():
        fresh = _locked(poll)
        # Ballots take only the audit chain's lock (see _cast); holding it from here to the commit
        # means every ballot has either committed before the count below or will find the poll closed.
        lock_chain()
        if fresh.state != Poll.State.OPEN:
            if at_deadline:
                return fresh
            raise errors.PollWrongState("Only an open poll can be closed.", state=fresh.state)
        now = timezone.now()
        if at_deadline and (fresh.deadline is None or now < fresh.deadline):
            return fresh
        closed_at = min(now, fresh.deadline) if at_deadline and fresh.deadline else now
        document = result_document(fresh, closed_at=closed_at, closed_by=acting_user)
        data = canonicalize(document)
        sig = key.sign(data)
        Poll.objects.filter(pk=fresh.pk).update(
            state=Poll.State.CLOSED, closed_at=closed_at, closed_by=acting_user, result=document, result_bytes=data, result_signature=sig
        )
        fresh.refresh_from_db()
        record(
            events.POLL_CLOSED,
            actor=acting_user,
            obj=fresh,
            source_ip=source_ip,
            details={
                "result_sha256": hashlib.sha256(data).hexdigest(),
                "outcome": document["tally"]["outcome"],
                "winner": document["tally"]["winner"],
                "counts": document["tally"]["counts"],
                "by": "deadline" if acting_user is None else "chair",
            },
        )
        from ecabinet.notify import hooks

        hooks.poll_closed(fresh, acting_user=acting_user)
        publish_live(fresh, events.LIVE_CLOSED, {"tally": document["tally"], "state": fresh.state})
    return fresh


def close_due_polls() -> list[int]:
    """Close every open poll whose deadline has passed (the periodic safety net for the eta task)."""
    closed = []
    for poll in Poll.objects.filter(state=Poll.State.OPEN, deadline__lte=timezone.now()):
        result = close_poll(poll, acting_user=None, at_deadline=True)
        if result.state == Poll.State.CLOSED:
            closed.append(poll.pk)
    return closed


def parse_voter_list(values: Sequence[Any]) -> list[int]:
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInput("voters are user ids") from None
