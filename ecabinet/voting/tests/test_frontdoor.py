"""The ASGI front door for device ballots (``voting.frontdoor``), driven as the server drives it.

Behind it here is a recorder standing in for Django, so each test sees whether the front door
answered or handed the request on, and with what body. What the front door answers must be what
the API answers (the Ninja view through Django's test client is the reference); what it hands on
must reach Django whole, with nothing changed in the database on the way.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from django.test import override_settings

from ecabinet.audit import checks
from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import ApiToken
from ecabinet.voting import events, frontdoor
from ecabinet.voting.frontdoor import ROUTE, BallotFrontDoor, _Request
from ecabinet.voting.models import Ballot, PollVoter
from ecabinet.voting.tests.conftest import post_ballot, signed_body
from ecabinet.web import metrics

pytestmark = pytest.mark.django_db(transaction=True)  # the front door works in its own threads


class Django:
    """Stands in for the Django application: records what reaches it and answers 299."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append((scope["method"], scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def request(
    app: Any,
    path: str,
    body: bytes,
    *,
    token: str | None = None,
    method: str = "POST",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    trailing: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """``trailing``: bytes the client sends after the ``Content-Length`` it announced (len(body))."""
    raw_headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    if token is not None:
        raw_headers.append((b"authorization", f"Bearer {token}".encode()))
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw_headers,
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> tuple[int, dict[str, str], bytes]:
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": body, "more_body": bool(trailing)})
        if trailing:
            await communicator.send_input({"type": "http.request", "body": trailing, "more_body": False})
        start = await communicator.receive_output(timeout=30)
        content = await communicator.receive_output(timeout=30)
        await communicator.wait(timeout=5)
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, content["body"]

    return async_to_sync(run)()


def ballots_path(poll: Any) -> str:
    return f"/api/v1/polls/{poll.pk}/ballots"


def counted(status: int) -> float:
    value = metrics.registry.get_sample_value("ecabinet_http_requests_total", {"route": ROUTE, "method": "POST", "status": str(status)})
    return value or 0.0


def test_a_device_ballot_is_answered_by_the_front_door_as_the_api_answers_it(voting, item_poll):
    django = Django()
    front = BallotFrontDoor(django)
    member, other = voting.members[:2]
    before = counted(201)

    status, headers, content = request(front, ballots_path(item_poll), json.dumps(signed_body(item_poll, member, "approve")).encode(), token=member.token)

    assert django.calls == []
    assert status == 201, content
    receipt = json.loads(content)
    stored = Ballot.objects.get(voter=member.user)
    assert receipt["ballot_sha256"] == stored.sha256 and receipt["audit_seq"] == stored.audit_seq and receipt["status"] == "pending_checkpoint"
    entry = AuditEntry.objects.get(seq=stored.audit_seq)
    assert entry.event == events.BALLOT_CAST and entry.source_ip == "203.0.113.7"
    # The same request through Django and Ninja, from another member: the same fields, types and headers.
    reference = post_ballot(other, item_poll, signed_body(item_poll, other, "reject"))
    assert reference.status_code == 201
    assert list(receipt) == list(reference.json()) and receipt["poll"] == reference.json()["poll"] == item_poll.pk
    assert {k: type(v) for k, v in receipt.items()} == {k: type(v) for k, v in reference.json().items()}
    assert len(receipt["received_at"]) == len(reference.json()["received_at"])
    assert headers["content-type"] == reference["Content-Type"]
    for name in ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options"):
        assert headers[name.lower()] == reference[name], name
    assert counted(201) == before + 1  # /metrics counts it under the API route, as Django would


def test_a_refusal_is_the_same_problem_the_api_gives(voting, item_poll):
    front = BallotFrontDoor(Django())
    member, other = voting.members[:2]
    mine = signed_body(item_poll, member, "approve")
    del mine["totp"]
    theirs = signed_body(item_poll, other, "approve")
    del theirs["totp"]

    status, headers, content = request(front, ballots_path(item_poll), json.dumps(mine).encode(), token=member.token)
    reference = post_ballot(other, item_poll, theirs)

    assert status == reference.status_code and reference.json()["code"] == "step_up_required"
    assert json.loads(content) == reference.json()
    assert headers["content-type"] == reference["Content-Type"] == "application/problem+json"
    assert Ballot.objects.count() == 0
    refusals = AuditEntry.objects.filter(event=events.BALLOT_REFUSED)
    assert sorted(e.actor_id for e in refusals) == sorted([member.user.pk, other.user.pk])


def test_a_wrong_step_up_code_spends_nothing_and_is_refused_with_its_code(voting, item_poll):
    front = BallotFrontDoor(Django())
    member = voting.members[0]
    body = signed_body(item_poll, member, "approve")
    body["totp"] = "000000" if body["totp"] != "000000" else "111111"

    status, _, content = request(front, ballots_path(item_poll), json.dumps(body).encode(), token=member.token)

    assert status == 401 and json.loads(content)["code"] == "mfa_invalid"
    assert json.loads(content)["instance"] == ballots_path(item_poll)
    assert Ballot.objects.count() == 0


@pytest.mark.parametrize(
    "case",
    [
        "no_token",
        "session_cookie_only",
        "wrong_type",
        "too_large",
        "not_json",
        "missing_ballot",
        "unknown_token",
        "revoked_token",
        "not_a_voter",
        "no_such_poll",
        "longer_than_announced",
    ],
)
def test_what_is_not_a_well_formed_device_ballot_goes_to_django_whole_and_changes_nothing(voting, item_poll, case):
    django = Django()
    front = BallotFrontDoor(django)
    member = voting.members[0]
    body = json.dumps(signed_body(item_poll, member, "approve")).encode()
    token: str | None = member.token
    path, content_type, headers = ballots_path(item_poll), "application/json", None
    if case == "no_token":
        token = None
    elif case == "session_cookie_only":
        token, headers = None, {"Cookie": "sessionid=abc; csrftoken=def"}
    elif case == "wrong_type":
        content_type = "text/plain"
    elif case == "too_large":
        body = b'{"ballot": "' + b"x" * 2_000_000 + b'"}'
    elif case == "not_json":
        body = b'{"ballot": '
    elif case == "missing_ballot":
        body = json.dumps({"signature": "AAAA", "totp": "123456"}).encode()
    elif case == "unknown_token":
        token = "ecab_" + "A" * 43
    elif case == "revoked_token":
        ApiToken.objects.filter(user=member.user).update(revoked_at="2026-01-01T00:00:00Z")
    elif case == "not_a_voter":
        PollVoter.objects.filter(poll=item_poll, user=member.user).delete()
    elif case == "no_such_poll":
        path = f"/api/v1/polls/{item_poll.pk + 1000}/ballots"
    trailing = b" {}" if case == "longer_than_announced" else b""
    entries_before = AuditEntry.objects.count()
    step_before = type(member.user).objects.get(pk=member.user.pk).totp_last_step

    status, _, content = request(front, path, body, token=token, content_type=content_type, headers=headers, trailing=trailing)

    assert (status, content) == (299, b"django")
    assert django.calls == [("POST", path, body + trailing)]
    assert Ballot.objects.count() == 0
    assert type(member.user).objects.get(pk=member.user.pk).totp_last_step == step_before  # the code is not spent
    # Django answers these; the front door wrote nothing of its own (a revoked token's entry is Django's to write).
    assert AuditEntry.objects.count() == entries_before


def test_other_requests_pass_straight_through(voting, item_poll):
    django = Django()
    front = BallotFrontDoor(django)
    member = voting.members[0]
    for method, path in [("GET", ballots_path(item_poll)), ("POST", f"/api/v1/polls/{item_poll.pk}/close"), ("POST", "/api/v1/polls/1/ballots/x")]:
        status, _, _ = request(front, path, b"{}", token=member.token, method=method)
        assert status == 299
    assert [call[:2] for call in django.calls] == [
        ("GET", ballots_path(item_poll)),
        ("POST", f"/api/v1/polls/{item_poll.pk}/close"),
        ("POST", "/api/v1/polls/1/ballots/x"),
    ]


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_source_address_is_read_as_django_reads_it_behind_a_trusted_proxy(voting, item_poll):
    front = BallotFrontDoor(Django())
    member = voting.members[0]
    body = json.dumps(signed_body(item_poll, member, "approve")).encode()
    status, _, _ = request(front, ballots_path(item_poll), body, token=member.token, headers={"X-Forwarded-For": "198.51.100.4, 192.0.2.1"})
    assert status == 201
    assert AuditEntry.objects.get(seq=Ballot.objects.get().audit_seq).source_ip == "192.0.2.1"


def serve_in_a_ballot_thread(batch: list[_Request]) -> list[Any]:
    with ThreadPoolExecutor(1) as pool:
        try:
            return pool.submit(frontdoor._serve, batch).result(60)
        finally:
            pool.submit(lambda: connection.close()).result(10)  # as the ballot thread gives its connection back


def test_a_batch_gives_each_request_its_own_answer_as_it_would_alone(voting, item_poll):
    """One batch as a burst makes it: two good ballots, a wrong step-up code, a body that is not a
    ballot, an unknown token, the same member twice (one poll allows one vote), and a good ballot
    from a member the poll does not list."""
    chair, first, second, third = voting.chair, *voting.members[:3]
    PollVoter.objects.filter(poll=item_poll, user=third.user).delete()
    path = ballots_path(item_poll)
    wrong_code = signed_body(item_poll, second, "reject")
    wrong_code["totp"] = "000000" if wrong_code["totp"] != "000000" else "111111"
    first_body = signed_body(item_poll, first, "approve")
    again = signed_body(item_poll, first, "reject")
    again["totp"] = first_body["totp"]
    batch = [
        _Request(item_poll.pk, first.token, json.dumps(first_body).encode(), "10.1.1.1", path),
        _Request(item_poll.pk, second.token, json.dumps(wrong_code).encode(), "10.1.1.2", path),
        _Request(item_poll.pk, chair.token, b'{"ballot": 5}', "10.1.1.3", path),
        _Request(item_poll.pk, "ecab_" + "x" * 40, json.dumps(signed_body(item_poll, chair, "approve")).encode(), "10.1.1.4", path),
        _Request(item_poll.pk, first.token, json.dumps(again).encode(), "10.1.1.1", path),
        _Request(item_poll.pk, chair.token, json.dumps(signed_body(item_poll, chair, "abstain")).encode(), "10.1.1.5", path),
        _Request(item_poll.pk, third.token, json.dumps(signed_body(item_poll, third, "approve")).encode(), "10.1.1.6", path),
    ]

    answers = serve_in_a_ballot_thread(batch)

    assert answers[2] is frontdoor._FALLBACK and answers[3] is frontdoor._FALLBACK and answers[6] is frontdoor._FALLBACK
    status = [answer[0] if answer is not frontdoor._FALLBACK else None for answer in answers]
    assert status == [201, 401, None, None, 401, 201, None]
    codes = [json.loads(answers[n][2])["code"] for n in (1, 4)]
    assert codes == ["mfa_invalid", "mfa_invalid"]  # the second use of one code is a replay
    stored = {b.voter_id: b.choice for b in Ballot.objects.all()}
    assert stored == {first.user.pk: "approve", chair.user.pk: "abstain"}
    for n in (0, 5):
        receipt = json.loads(answers[n][2])
        ballot = Ballot.objects.get(sha256=receipt["ballot_sha256"])
        assert receipt["audit_seq"] == ballot.audit_seq
        assert AuditEntry.objects.get(seq=ballot.audit_seq).source_ip == batch[n].source_ip
    replayed = AuditEntry.objects.filter(event="identity.mfa.replayed", actor=first.user)
    assert replayed.count() == 1
    assert checks.full_verify().report.ok


def test_a_burst_through_the_front_door_answers_every_request_and_stores_each_ballot_once(voting, item_poll):
    """Many requests at once through the ASGI application: they queue and are taken in batches by
    the ballot threads; every one gets its own receipt."""
    front = BallotFrontDoor(Django())
    voters = [voting.chair, *voting.members]
    bodies = [(voter, json.dumps(signed_body(item_poll, voter, "approve")).encode()) for voter in voters]

    async def burst() -> list[tuple[int, bytes]]:
        async def one(voter: Any, body: bytes) -> tuple[int, bytes]:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": ballots_path(item_poll),
                "raw_path": ballots_path(item_poll).encode(),
                "root_path": "",
                "query_string": b"",
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", f"Bearer {voter.token}".encode()),
                ],
                "client": ("203.0.113.9", 50000),
                "server": ("testserver", 80),
            }
            communicator = ApplicationCommunicator(front, scope)
            await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
            start = await communicator.receive_output(timeout=60)
            content = await communicator.receive_output(timeout=60)
            return start["status"], content["body"]

        return await asyncio.gather(*(one(voter, body) for voter, body in bodies))

    answers = async_to_sync(burst)()

    assert [status for status, _ in answers] == [201] * len(voters), answers
    receipts = [json.loads(content)["ballot_sha256"] for _, content in answers]
    stored = list(Ballot.objects.values_list("sha256", flat=True))
    assert sorted(receipts) == sorted(stored) and len(set(stored)) == len(voters)
    assert checks.full_verify().report.ok


def test_a_ballot_thread_that_cannot_give_its_connection_back_still_answers_and_stops(voting, item_poll, monkeypatch):
    """A failure handing the connection back is logged; it must not end the thread with the queue
    believing it still works (later ballots would wait for no one)."""

    def broken() -> None:
        raise RuntimeError("the pool is gone")

    monkeypatch.setattr(frontdoor, "close_old_connections", broken)
    front = BallotFrontDoor(Django())
    for member in voting.members[:2]:
        status, _, content = request(front, ballots_path(item_poll), json.dumps(signed_body(item_poll, member, "approve")).encode(), token=member.token)
        assert status == 201, content
    assert front._batcher is not None
    deadline = time.monotonic() + 10
    while front._batcher._working and time.monotonic() < deadline:
        time.sleep(0.01)
    assert front._batcher._working == 0
    assert Ballot.objects.count() == 2
