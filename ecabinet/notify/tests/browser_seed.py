"""Seed for the browser test, run in a child with the server's environment:

``python -m ecabinet.notify.tests.browser_seed`` makes a scheduled meeting with an accepted item,
its office secretary (password + authenticator, to publish through the API) and two invited
members with signed-in sessions (their cookies go into two browsers); prints them as JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any


def seed() -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    from ecabinet.identity import actions as identity_actions
    from ecabinet.identity.models import Clearance, Role
    from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, OfficeFactory

    gov = GovernmentFactory()
    office = OfficeFactory(parent=gov)
    chair = UserFactory(role=Role.CHAIR, organisation=gov, clearance=Clearance.SECRET)
    secretary = UserFactory(role=Role.SECRETARY, organisation=office, clearance=Clearance.SECRET)
    members = [UserFactory(role=Role.MEMBER, organisation=gov, clearance=Clearance.SECRET, full_name=name) for name in ("Bộ trưởng An", "Bộ trưởng Bình")]
    meeting = MeetingFactory(organisation=gov, chair=chair, created_by=secretary, state=Meeting.State.SCHEDULED)
    AgendaItemFactory(meeting=meeting, order=1, proposed_by=secretary, reviewed_by=secretary)
    Participant.objects.create(meeting=meeting, user=secretary, kind=Participant.Kind.SECRETARY)
    for member in members:
        Participant.objects.create(meeting=meeting, user=member, kind=Participant.Kind.MEMBER)
    store_cls = import_string(settings.SESSION_ENGINE + ".SessionStore")
    sessions = []
    for user in members:
        session = store_cls()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[identity_actions.SESSION_MFA] = True
        session[identity_actions.SESSION_LOGIN_AT] = int(time.time())
        session[identity_actions.SESSION_SEEN_AT] = int(time.time())
        session.create()
        sessions.append(session.session_key)
    return {
        "meeting": meeting.pk,
        "password": PASSWORD,
        "secretary": {"username": secretary.username, "totp": secretary.test_totp_secret},
        "members": [{"id": u.pk, "name": u.full_name, "session": s} for u, s in zip(members, sessions, strict=True)],
    }


if __name__ == "__main__":
    print(json.dumps(seed()))
