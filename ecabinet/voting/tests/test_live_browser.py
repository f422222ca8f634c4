"""Issue 5's "done when", in Chromium against a real ``ecabinet serve`` (uvicorn, WebSocket).

Three ministers enrol their tablets' keys in the browser (WebCrypto) and the office secretary
approves them on the approval queue. In the live session the chair opens the vote; the ministers
sign and cast from their tablets with the step-up code; the chair's page receives every ballot
event over the meeting's WebSocket (the frames are read off the socket, and every request the
page makes for the results is counted: one when the page loads, then exactly one per event, so
no polling fetched them). The chair closes, the result with the rule applied is shown, and the
evidence exported with ``ecabinet poll evidence`` passes ``openssl cms -verify`` for every ballot
and ``ecabinet poll verify``; a changed byte fails both. A written consultation then runs the
same way through the pages, outside any meeting (no WebSocket: its page polls).

On the PostgreSQL pass the server uses a scratch PostgreSQL database and the outer run's Redis as
its channel layer; otherwise an SQLite file and the serve process's embedded in-memory layer.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecabinet.voting.tests import live_site
from ecabinet.web.tests.conftest import ARTIFACTS, TABLET_LANDSCAPE

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # a wait for something to happen, never a measurement
MEMBERS = ("member1", "member2", "member3")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live_site.Site]:
    with live_site.site(tmp_path_factory.mktemp("voting-live"), "vote_e2e") as running:
        yield running


def tablet(chromium: Any, site: live_site.Site, person: str) -> Any:
    """A separate tablet (its own cookies and key store), signed in through both steps of the form."""
    from playwright.sync_api import expect

    context = chromium.new_context(base_url=site.url, viewport=TABLET_LANDSCAPE, locale="vi-VN", has_touch=True, timezone_id="Asia/Ho_Chi_Minh")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login/")
    page.locator("#id_username").fill(site.people[person]["username"])
    page.locator("#id_password").fill(site.people["password"])
    page.locator("#login-submit").click()
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    page.locator("#id_code").fill(site.code(person))
    page.locator("#code-submit").click()
    expect(page).to_have_url(re.compile(r"/$"))
    return page


@pytest.fixture(scope="module")
def tablets(chromium: Any, site: live_site.Site) -> dict[str, Any]:
    """Everyone signed in; each minister's tablet holds a key the office secretary approved."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    pages = {person: tablet(chromium, site, person) for person in ("secretary", "chair", *MEMBERS)}
    for person in MEMBERS:
        page = pages[person]
        page.goto("/pki/")
        page.locator("#device-label").fill(f"iPad {site.people[person]['name']}")
        page.locator("#enrol-button").click()
        expect(page.locator("#requests-table tr[data-state=pending]")).to_have_count(1)
    secretary = pages["secretary"]
    secretary.goto("/pki/queue/")
    approve = secretary.locator("button[data-approve]")
    expect(approve).to_have_count(len(MEMBERS))
    for remaining in range(len(MEMBERS), 0, -1):
        approve.first.click()
        expect(approve).to_have_count(remaining - 1)
    for person in MEMBERS:
        pages[person].goto("/pki/")
        expect(pages[person].locator("#certificates-table tr[data-state=valid] .this-device")).to_be_visible()
    return pages


class Watch:
    """What the chair's page receives: WebSocket frames (parsed) and its requests for the results,
    in the order the browser reports them."""

    def __init__(self, page: Any, poll: int) -> None:
        self.poll = poll
        self.log: list[tuple[str, Any]] = []
        self.sockets: list[str] = []
        page.on("websocket", self._socket)
        page.on("request", self._request)

    def _socket(self, ws: Any) -> None:
        if "/ws/meetings/" in ws.url:  # the page's own channel; the shell's notification socket is /ws/live/
            self.sockets.append(ws.url)
            ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "event" and str(message.get("kind", "")).startswith("poll.") and message["data"].get("poll") == self.poll:
            self.log.append((message["kind"], message["data"]))
        elif message.get("type") == "snapshot":
            self.log.append(("snapshot", None))

    def _request(self, request: Any) -> None:
        if request.url.endswith(f"/api/v1/polls/{self.poll}/results"):
            self.log.append(("results", request.method))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log]

    def ballots(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.log if kind == "poll.ballot"]


def wait_until(page: Any, condition: Any, context: Any) -> None:
    """Let the page's events run until ``condition()`` holds (events are delivered while Playwright waits)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, context
        page.wait_for_timeout(50)


def fresh_tab(page: Any) -> Any:
    tab = page.context.new_page()
    page.close()
    return tab


def cast(page: Any, site: live_site.Site, person: str, poll: int, choice: str) -> str:
    from playwright.sync_api import expect

    page.goto(f"/voting/{poll}/")
    expect(page.locator("#device-key option")).to_have_count(1)
    page.locator(f"input[name=choice][value={choice}]").check()
    page.locator("#totp").fill(site.code(person))
    page.locator("#cast-button").click()
    expect(page.locator("#ballot-status[data-state=accepted]")).to_be_visible()
    return str(page.locator("#receipt-hash").inner_text()).strip()


def verify_evidence(site: live_site.Site, poll: int, folder: Path, ballots: int) -> None:
    """``ecabinet poll evidence``, then openssl on every ballot and ``ecabinet poll verify``; a changed byte fails both."""
    site.cli("poll", "evidence", str(poll), str(folder))
    signed = sorted(folder.glob("ballot-*.p7s"))
    assert len(signed) == ballots, sorted(p.name for p in folder.iterdir())

    def openssl(p7s: Path) -> subprocess.CompletedProcess[bytes]:
        command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s.name, "-content", p7s.stem + ".json", "-CAfile", "ca.pem"]
        return subprocess.run([*command, "-purpose", "any", "-out", "/dev/null"], cwd=folder, capture_output=True, check=False)

    for p7s in signed:
        result = openssl(p7s)
        assert result.returncode == 0 and b"Verification successful" in result.stderr, (p7s.name, result.stderr)
    verified = site.cli("poll", "verify", str(folder), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    content = signed[0].with_suffix(".json")
    data = bytearray(content.read_bytes())
    data[data.index(b'"choice":"') + len('"choice":"')] ^= 0x01  # one bit of the choice
    content.write_bytes(bytes(data))
    assert openssl(signed[0]).returncode != 0
    broken = site.cli("poll", "verify", str(folder), check=False)
    assert broken.returncode == 1 and signed[0].stem in broken.stdout + broken.stderr, broken.stdout + broken.stderr


def test_live_vote_results_arrive_over_the_websocket(site: live_site.Site, tablets: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    vote = site.people["vote"]
    chair = tablets["chair"]
    chair.goto(f"/voting/{vote}/")
    chair.locator("#open-poll").click()
    expect(chair.locator("#close-poll")).to_be_visible()  # the page reloads on the open poll

    # From here on, everything the chair's page receives is watched, in a fresh tab of the same
    # tablet (the old one may still be reloading after the opening).
    chair = tablets["chair"] = fresh_tab(chair)
    watch = Watch(chair, vote)
    chair.goto(f"/voting/{vote}/")
    expect(chair.locator("#results[data-cast='0']")).to_have_count(1)
    wait_until(chair, lambda: "snapshot" in watch.kinds(), watch.log)  # the socket has joined the meeting's group
    assert watch.sockets == [f"{site.url.replace('http', 'ws')}/ws/meetings/{site.people['meeting']}/"]
    assert watch.kinds().count("results") == 1  # the page's own first load of the results

    receipts = {}
    for n, (person, choice) in enumerate(zip(MEMBERS, ("approve", "approve", "reject"), strict=True), start=1):
        receipts[person] = cast(tablets[person], site, person, vote, choice)
        # The chair's page shows the ballot without reloading ...
        expect(chair.locator(f"#results[data-cast='{n}']")).to_have_count(1)
        # ... because a frame said so: the ballot event over the WebSocket, then the one fetch it caused.
        assert [b["cast"] for b in watch.ballots()] == list(range(1, n + 1)), watch.log
        assert watch.kinds()[-2:] == ["poll.ballot", "results"], watch.log
    expect(chair.locator("#results li[data-option=approve]")).to_have_attribute("data-count", "2")
    expect(chair.locator("#results li[data-option=reject]")).to_have_attribute("data-count", "1")
    # No request for the results that a frame did not cause: the polling fallback never ran.
    assert watch.kinds().count("results") == 1 + len(watch.ballots()) == 4, watch.log

    # A member checks the receipt against a signed checkpoint in the browser.
    site.cli("audit", "checkpoint")
    first = tablets["member1"]
    first.locator("#check-receipt").click()
    expect(first.locator("#receipt-status[data-state=included]")).to_be_visible()

    with chair.expect_navigation():  # the page reloads itself once the poll is closed
        chair.locator("#close-poll").click()
    wait_until(chair, lambda: "poll.closed" in watch.kinds(), watch.log)
    closed = next(data for kind, data in watch.log if kind == "poll.closed")
    assert closed["tally"]["outcome"] == "adopted" and closed["tally"]["rule"] == "simple", closed
    expect(chair.locator("#outcome[data-outcome=adopted]")).to_have_count(1)
    expect(chair.locator("#outcome")).to_have_text("Được thông qua")  # in the reader's language, not the code
    expect(chair.locator("#results .roll-call li")).to_have_count(3)
    expect(chair.locator("#evidence-link")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    chair.screenshot(path=str(ARTIFACTS / "voting-live-result.png"), full_page=True)

    verify_evidence(site, vote, tmp_path / "evidence", ballots=3)


def test_written_consultation_through_the_pages(site: live_site.Site, tablets: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    poll = site.people["consultation"]
    chair = tablets["chair"]
    chair.goto("/voting/")
    chair.locator(f"#polls-table tr[data-poll='{poll}'] a").click()
    expect(chair).to_have_url(re.compile(rf"/voting/{poll}/$"))
    chair.locator("#open-poll").click()
    expect(chair.locator("#close-poll")).to_be_visible()
    chair = tablets["chair"] = fresh_tab(chair)
    watch = Watch(chair, poll)
    chair.goto(f"/voting/{poll}/")
    expect(chair.locator("#results[data-cast='0']")).to_have_count(1)

    for n, (person, choice) in enumerate(zip(MEMBERS, ("approve", "approve", "abstain"), strict=True), start=1):
        page = tablets[person]
        page.goto("/voting/")
        expect(page.locator(f"#polls-table tr[data-poll='{poll}'][data-state=open]")).to_have_count(1)
        cast(page, site, person, poll, choice)
        expect(chair.locator(f"#results[data-cast='{n}']")).to_have_count(1)
    # Outside a meeting there is no channel: the page asked for the results itself.
    assert watch.sockets == [] and watch.ballots() == [], watch.log
    assert watch.kinds().count("results") >= 2

    chair.locator("#close-poll").click()
    expect(chair.locator("#outcome[data-outcome=adopted]")).to_have_count(1)
    member = tablets["member3"]
    member.goto(f"/voting/{poll}/")
    expect(member.locator("#ballot-form")).to_have_count(0)  # closed: nothing more to cast
    expect(member.locator("#results .roll-call li")).to_have_count(3)  # roll-call: every participant sees who chose what
    verify_evidence(site, poll, tmp_path / "evidence", ballots=3)
