"""In Chromium: a member enrols the tablet's key, the chair opens the vote, the member signs and
casts from the browser with the step-up code, the chair's page sees the ballot arrive, the chair
closes with the rule applied, the member checks the receipt against the signed audit log, and the
exported evidence passes openssl.

pytest-django's live server speaks HTTP only, so the chair's page gets the results by its polling
fallback here; test_live_browser.py runs the same story against a real ``ecabinet serve`` and
proves the results arrive over the meeting's WebSocket.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ecabinet.audit.actions import make_checkpoint
from ecabinet.conftest import fresh_code
from ecabinet.meetings.models import Meeting
from ecabinet.pki import actions as pki_actions
from ecabinet.pki.models import EnrolmentRequest
from ecabinet.pki.tests.test_browser import ARGS, CHROMIUM, sign_in
from ecabinet.voting import actions, evidence
from ecabinet.voting.models import Ballot, Poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "chromium is missing: run `make sysdeps`"
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield lambda: launched.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}, locale="en-GB").new_page()
        finally:
            launched.close()


def test_sign_and_cast_from_the_tablet_and_verify_the_evidence(browser, cabinet, installation_ca, tmp_path):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.IN_SESSION)
    member = cabinet.members[0]
    tablet = browser()
    sign_in(tablet, member)
    tablet.goto("/pki/")
    tablet.locator("#device-label").fill("iPad Bộ trưởng")
    tablet.locator("#enrol-button").click()
    tablet.locator("#requests-table tr[data-state=pending]").wait_for(timeout=20000)
    pki_actions.approve_enrolment(EnrolmentRequest.objects.get(user=member), acting_user=cabinet.office_secretary, source_ip=None)

    poll = actions.create_poll(question="Thông qua Dự thảo Nghị định?", item=cabinet.items[0], quorum=(0, 1), acting_user=cabinet.chair)
    chair_page = browser()
    sign_in(chair_page, cabinet.chair)
    chair_page.goto(f"/voting/{poll.pk}/")
    chair_page.locator("#open-poll").click()
    chair_page.locator("#poll[data-state=open]").wait_for(timeout=10000)
    assert Poll.objects.get(pk=poll.pk).state == "open"

    tablet.goto(f"/voting/{poll.pk}/")
    assert tablet.locator("#roll-call-notice").is_visible()  # the page says plainly that the vote is named
    tablet.locator("#device-key option").first.wait_for(state="attached", timeout=10000)
    tablet.locator("input[name=choice][value=approve]").check()
    member.refresh_from_db()
    tablet.locator("#totp").fill(fresh_code(member))
    tablet.locator("#cast-button").click()
    tablet.locator("#ballot-status[data-state=accepted]").wait_for(timeout=20000)
    ballot = Ballot.objects.get(poll=poll)
    assert ballot.voter == member and ballot.choice == "approve"
    assert tablet.locator("#receipt-hash").inner_text() == ballot.sha256

    # The chair's page sees the ballot arrive without reloading.
    chair_page.locator("#results[data-cast='1'] li[data-option=approve][data-count='1']").wait_for(timeout=15000)

    # The receipt checks against a signed checkpoint, in the browser.
    make_checkpoint()
    tablet.locator("#check-receipt").click()
    tablet.locator("#receipt-status[data-state=included]").wait_for(timeout=10000)

    chair_page.locator("#close-poll").click()
    chair_page.locator("#outcome[data-outcome=adopted]").wait_for(timeout=10000)
    closed = Poll.objects.get(pk=poll.pk)
    assert closed.state == "closed" and closed.result["tally"]["outcome"] == "adopted"

    folder = tmp_path / "evidence"
    evidence.write_folder(evidence.export(closed), folder)
    [p7s] = list(folder.glob("ballot-*.p7s"))
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s.name, "-content", p7s.stem + ".json", "-CAfile", "ca.pem", "-purpose", "any"],
        cwd=folder,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0 and b"Verification successful" in result.stderr, result.stderr
