"""The meeting's live channel ws/meetings/<id>/: who may connect, what each connection receives.

These run the real ASGI application (session cookie, origin check, auth middleware) through a
WebsocketCommunicator (channels' own, minus its daphne import), on the configured channel layer (in-memory, or Redis when
ECABINET_REDIS_URL is set), with committed data so the consumer's threads see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.db import transaction

from ecabinet.asgi import application
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.meetings import broadcast, live
from ecabinet.meetings.models import Meeting, Participant
from ecabinet.meetings.tests.factories import AgendaItemFactory, ItemGuestFactory, MeetingFactory, ParticipantFactory
from ecabinet.meetings.tests.live_helpers import WebsocketClient as WebsocketCommunicator
from ecabinet.meetings.tests.live_helpers import open_session, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

QUIET = 0.3  # seconds a connection must stay silent to show it received nothing


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    # Each test runs on its own event loop; a layer made on an earlier loop cannot serve it.
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@dataclass
class Live:
    cabinet: Any
    secret: Any
    low_member: Any
    expert: Any
    other_member: Any
    other_meeting: Meeting
    cookies: dict[str, str]


def cookie_of(user: Any, *, mfa: bool = True) -> str:
    return signed_in(user, mfa=mfa).cookies["sessionid"].value


@pytest.fixture
def setup(cabinet) -> Live:
    open_session(cabinet.meeting)
    cabinet.chair.clearance = Clearance.SECRET
    cabinet.chair.save(update_fields=["clearance"])
    secret = AgendaItemFactory(
        meeting=cabinet.meeting, order=9, classification=Clearance.SECRET, proposed_by=cabinet.ministry_secretary, title="Mật: quốc phòng"
    )
    low_member = cabinet.members[0]  # internal clearance
    expert = UserFactory(role=Role.GUEST, organisation=cabinet.government, full_name="Chuyên gia")
    ItemGuestFactory(item=cabinet.items[1], user=expert)
    other_meeting = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, created_by=cabinet.office_secretary)
    other_member = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    ParticipantFactory(meeting=other_meeting, user=other_member, kind=Participant.Kind.MEMBER)
    cookies = {
        "chair": cookie_of(cabinet.chair),
        "low": cookie_of(low_member),
        "member2": cookie_of(cabinet.members[1]),
        "expert": cookie_of(expert),
        "other": cookie_of(other_member),
        "no_mfa": cookie_of(cabinet.members[2], mfa=False),
    }
    return Live(cabinet, secret, low_member, expert, other_member, other_meeting, cookies)


def communicator(meeting_id: int, cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/meetings/{meeting_id}/", headers)


async def join(meeting_id: int, cookie: str | None) -> tuple[WebsocketCommunicator, dict]:
    comm = communicator(meeting_id, cookie)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    first = await comm.receive_json_from(timeout=5)
    assert first["type"] == "snapshot", first
    return comm, first


async def refused(meeting_id: int, cookie: str | None) -> int:
    comm = communicator(meeting_id, cookie)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    await comm.wait()
    return message["code"]


async def next_event(comm: WebsocketCommunicator) -> dict:
    message = await comm.receive_json_from(timeout=5)
    assert message["type"] == "event", message
    return message


act = database_sync_to_async


async def test_connect_gives_a_snapshot_then_every_change_live(setup):
    cab = setup.cabinet
    comm, snap = await join(cab.meeting.pk, setup.cookies["member2"])
    assert snap["meeting"]["state"] == "in_session" and snap["running_item"] is None
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    event = await next_event(comm)
    assert event["kind"] == live.ITEM_STARTED and event["item"] == cab.items[0].pk
    assert event["data"]["item"]["started_at"] and event["data"]["item"]["planned_minutes"] == 15
    await act(live.check_in)(cab.meeting, acting_user=cab.members[1])
    event = await next_event(comm)
    assert event["kind"] == live.ATTENDANCE and event["data"]["quorum"]["present"] == 1
    await act(live.request_floor)(cab.items[0], acting_user=cab.members[1])
    event = await next_event(comm)
    assert event["kind"] == live.SPEAKERS and event["data"]["speakers"][0]["user"]["id"] == cab.members[1].pk
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(timeout=5)) == {"type": "pong"}
    await comm.disconnect()


async def test_a_reconnecting_client_gets_the_current_state_not_a_replay(setup):
    cab = setup.cabinet
    comm, _ = await join(cab.meeting.pk, setup.cookies["member2"])
    await comm.disconnect()
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    await act(live.start_item)(cab.items[1], acting_user=cab.chair)
    comm, snap = await join(cab.meeting.pk, setup.cookies["member2"])
    assert snap["running_item"]["id"] == cab.items[1].pk
    assert [i["ended_at"] is not None for i in snap["items"]] == [True, False, False]
    assert await comm.receive_nothing(timeout=QUIET)
    await comm.send_json_to({"type": "snapshot"})
    again = await comm.receive_json_from(timeout=5)
    assert again["type"] == "snapshot" and again["running_item"]["id"] == cab.items[1].pk
    await comm.disconnect()


async def test_anonymous_unverified_outsiders_and_unknown_meetings_are_refused(setup):
    cab = setup.cabinet
    assert await refused(cab.meeting.pk, None) == 4401
    assert await refused(cab.meeting.pk, "not-a-session") == 4401
    assert await refused(cab.meeting.pk, setup.cookies["no_mfa"]) == 4401
    # Invisible and non-existent look the same: 4404.
    assert await refused(cab.meeting.pk, setup.cookies["other"]) == 4404
    assert await refused(999999, setup.cookies["chair"]) == 4404
    # A page from another site may not open the channel with the user's cookie.
    comm = WebsocketCommunicator(
        application, f"/ws/meetings/{cab.meeting.pk}/", [(b"origin", b"https://evil.example"), (b"cookie", f"sessionid={setup.cookies['chair']}".encode())]
    )
    connected, _ = await comm.connect(timeout=5)
    assert not connected


async def test_a_member_of_another_meeting_receives_nothing_of_this_one(setup):
    cab = setup.cabinet
    outsider, _ = await join(setup.other_meeting.pk, setup.cookies["other"])
    insider, _ = await join(cab.meeting.pk, setup.cookies["member2"])
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    await act(live.check_in)(cab.meeting, acting_user=cab.members[1])
    assert (await next_event(insider))["kind"] == live.ITEM_STARTED
    assert (await next_event(insider))["kind"] == live.ATTENDANCE
    assert await outsider.receive_nothing(timeout=QUIET)
    await outsider.disconnect()
    await insider.disconnect()


async def test_nobody_below_an_items_classification_receives_its_events(setup):
    cab = setup.cabinet
    chair, chair_snap = await join(cab.meeting.pk, setup.cookies["chair"])
    low, low_snap = await join(cab.meeting.pk, setup.cookies["low"])
    assert setup.secret.pk in [i["id"] for i in chair_snap["items"]]
    assert setup.secret.pk not in [i["id"] for i in low_snap["items"]]
    await act(live.start_item)(setup.secret, acting_user=cab.chair)
    await act(live.request_floor)(setup.secret, acting_user=cab.chair)
    assert (await next_event(chair))["item"] == setup.secret.pk
    assert (await next_event(chair))["kind"] == live.SPEAKERS
    assert await low.receive_nothing(timeout=QUIET)
    # Moving on ends the secret item (dropped for the low-clearance member) and starts a normal one.
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    seen = await next_event(low)
    assert (seen["kind"], seen["item"]) == (live.ITEM_STARTED, cab.items[0].pk)
    assert "Mật" not in str(seen)
    assert [((e := await next_event(chair))["kind"], e["item"]) for _ in range(2)] == [(live.ITEM_STARTED, cab.items[0].pk), (live.ITEM_ENDED, setup.secret.pk)]
    assert await low.receive_nothing(timeout=QUIET)
    await chair.disconnect()
    await low.disconnect()


async def test_a_guest_invited_to_one_item_receives_that_items_events_only(setup):
    cab = setup.cabinet
    guest, snap = await join(cab.meeting.pk, setup.cookies["expert"])
    assert [i["id"] for i in snap["items"]] == [cab.items[1].pk]
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    await act(live.request_floor)(cab.items[0], acting_user=cab.members[1])
    await act(live.start_item)(cab.items[1], acting_user=cab.chair)
    seen = await next_event(guest)
    assert (seen["kind"], seen["item"]) == (live.ITEM_STARTED, cab.items[1].pk)
    await act(live.request_floor)(cab.items[1], acting_user=setup.expert)
    seen = await next_event(guest)
    assert (seen["kind"], seen["item"]) == (live.SPEAKERS, cab.items[1].pk)
    assert await guest.receive_nothing(timeout=QUIET)
    await guest.disconnect()


def _invite_and_announce(item: Any, user: Any) -> None:
    with transaction.atomic():
        ItemGuestFactory(item=item, user=user)
        broadcast.publish(item.meeting_id, live.AGENDA, {"reason": "guest_added"}, min_level=item.meeting.classification)


async def test_visibility_is_recomputed_on_agenda_events(setup):
    cab = setup.cabinet
    guest, _ = await join(cab.meeting.pk, setup.cookies["expert"])
    await act(live.start_item)(cab.items[0], acting_user=cab.chair)
    assert await guest.receive_nothing(timeout=QUIET)
    await act(_invite_and_announce)(cab.items[0], setup.expert)
    assert (await next_event(guest))["kind"] == live.AGENDA
    await act(live.request_floor)(cab.items[0], acting_user=cab.members[1])
    seen = await next_event(guest)
    assert (seen["kind"], seen["item"]) == (live.SPEAKERS, cab.items[0].pk)
    await guest.disconnect()


async def test_a_meeting_that_becomes_invisible_closes_the_channel(setup):
    cab = setup.cabinet
    low, _ = await join(cab.meeting.pk, setup.cookies["low"])

    def classify_and_announce() -> None:
        with transaction.atomic():
            Meeting.objects.filter(pk=cab.meeting.pk).update(classification=Clearance.SECRET)
            broadcast.publish(cab.meeting.pk, live.AGENDA, {"reason": "classification"}, min_level=Clearance.SECRET)

    await act(classify_and_announce)()
    message = await low.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4404}
