"""The whole meeting, end to end, in real browsers (Debian's Chromium) against a real ``ecabinet serve``.

An office secretary builds a 10-item agenda and publishes the dossier; three ministers record
their positions on their tablets (one objects to an item, one wishes to speak on another); the
consent block is proposed and the chair adopts it at the opening; the chair runs the two remaining
items with the timer and the speakers' list while a second minister's open live page follows every
change without reloading; the meeting closes, the minutes are drafted, submitted, approved and
downloaded as a PDF in Vietnamese; the report shows planned against actual time.

Everything goes through the pages a user would use, each person signed in once through the real
two-step form. pytest-django's live server does not speak WebSocket, so the server is ``ecabinet
serve --no-worker`` on its own port, var/ directory and database (an SQLite file, or a scratch
PostgreSQL database on the PostgreSQL pass, with the outer run's Redis as its channel layer).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecabinet.identity.core import totp
from ecabinet.meetings.tests import live_servers
from ecabinet.web.tests.conftest import ARTIFACTS, TABLET_LANDSCAPE

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # generous: a wait for something to happen, never a measurement
TITLE = "Phiên họp Chính phủ thường kỳ tháng Mười: Nghị định về đấu thầu điện tử"
ITEMS = [
    "Tờ trình dự án Luật Đất đai (sửa đổi)",
    "Nghị định về quản lý nợ công",
    "Đề án chuyển đổi số quốc gia",
    "Báo cáo tình hình kinh tế – xã hội quý III",
    "Nghị quyết về phát triển nhà ở xã hội",
    "Quyết định phê duyệt quy hoạch vùng đồng bằng sông Cửu Long",
    "Nghị định về bảo hiểm y tế",
    "Chương trình xây dựng pháp luật năm tới",
    "Đề án phát triển giáo dục nghề nghiệp",
    "Kế hoạch ứng phó biến đổi khí hậu",
]
PLANNED_MINUTES = 10
OBJECTED, WISH_TO_SPEAK = 2, 4  # indexes: item 3 has an objection, item 5 a request to speak


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[live_servers.Server, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("meetings-e2e")
    with live_servers.private_database(work, f"e2e_{secrets.token_hex(3)}") as database_url:
        env = live_servers.child_env(work, database_url=database_url, redis_url=os.environ.get("ECABINET_REDIS_URL") or None)
        live_servers.run_cli(env, "migrate", "--noinput", "-v", "0")
        seeded = subprocess.run([sys.executable, "-m", "ecabinet.meetings.tests.e2e_seed"], env=env, capture_output=True, text=True, timeout=300)
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        people = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = live_servers.Server(env, live_servers.free_port(), Path(work) / "serve.log")
        try:
            server.wait_ready(timeout=120)
            yield server, people
        finally:
            server.stop()


def tablet(chromium: Any, server: live_servers.Server, person: dict[str, Any], password: str) -> Any:
    """A separate tablet (its own cookies), signed in through both steps of the real form."""
    from playwright.sync_api import expect

    context = chromium.new_context(
        base_url=server.url, viewport=TABLET_LANDSCAPE, locale="vi-VN", has_touch=True, timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login/")
    page.locator("#id_username").fill(person["username"])
    page.locator("#id_password").fill(password)
    page.locator("#login-submit").click()
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    # A fresh user has used no step yet, so the current step's code is the next one accepted.
    page.locator("#id_code").fill(totp.code_for(person["totp"]))
    page.locator("#code-submit").click()
    expect(page).to_have_url(re.compile(r"/$"))
    return page


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def submit(page: Any, form: str) -> None:
    page.locator(f"{form} button[type=submit]").first.click()
    page.wait_for_load_state()


def test_a_whole_meeting_in_the_browser(site: Any, chromium: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    server, people = site
    password = people["password"]
    ARTIFACTS.mkdir(exist_ok=True)
    secretary = tablet(chromium, server, people["secretary"], password)
    members = [tablet(chromium, server, people[f"member{n}"], password) for n in (1, 2, 3)]
    chair = tablet(chromium, server, people["chair"], password)

    # --- the office secretary creates the meeting and invites the ministers ----------------------
    secretary.goto("/meetings/")
    secretary.locator("#new-meeting").click()
    starts = (datetime.now() + timedelta(days=3)).replace(hour=8, minute=0)
    secretary.locator("#id_title").fill(TITLE)
    secretary.locator("#id_kind").select_option("regular")
    secretary.locator("#id_starts_at").fill(local(starts))
    secretary.locator("#id_planned_end").fill(local(starts + timedelta(hours=2)))
    secretary.locator("#id_place").fill("Phòng họp Diên Hồng, Văn phòng Chính phủ")
    secretary.locator("#id_chair").select_option(str(people["chair"]["id"]))
    secretary.locator("#id_positions_deadline").fill(local(starts - timedelta(days=1)))
    submit(secretary, "form.card")
    expect(secretary).to_have_url(re.compile(r"/meetings/\d+/$"))
    meeting_id = int(re.search(r"/meetings/(\d+)/$", secretary.url).group(1))  # type: ignore[union-attr]
    detail = f"/meetings/{meeting_id}/"
    expect(secretary.locator("h1")).to_have_text(TITLE)
    for n in (1, 2, 3):
        secretary.locator("#participant-user").select_option(str(people[f"member{n}"]["id"]))
        secretary.locator("#participant-kind").select_option("member")
        submit(secretary, "#participant-form")
        expect(secretary.locator(f"#participant-list li[data-user='{people[f'member{n}']['id']}']")).to_have_count(1)

    # --- ten items, proposed and accepted by the office secretary --------------------------------
    for title in ITEMS:
        secretary.goto(detail)
        secretary.locator("#propose-link").click()
        secretary.locator("#id_title").fill(title)
        secretary.locator("#id_kind").select_option("decision")
        secretary.locator("#id_planned_minutes").fill(str(PLANNED_MINUTES))
        submit(secretary, "form.card")
        expect(secretary).to_have_url(re.compile(r"/meetings/items/\d+/$"))
        secretary.locator("#review-form button[value=accept]").click()
        expect(secretary.locator("#review-form")).to_have_count(0)
    secretary.goto(detail)
    agenda = secretary.locator("#agenda li.agenda-item")
    expect(agenda).to_have_count(len(ITEMS))
    item_ids = [int(agenda.nth(n).get_attribute("data-item")) for n in range(len(ITEMS))]
    for action in ("schedule", "publish"):
        secretary.locator(f"button[data-transition={action}]").click()
        secretary.wait_for_load_state()
    expect(secretary.locator("button[data-transition=open]")).to_be_visible()

    # --- positions on the members' tablets ---------------------------------------------------------
    for n, page in enumerate(members):
        page.goto(detail)
        page.locator("#positions-link").click()
        for index, item_id in enumerate(item_ids):
            stance = "agree"
            if n == 0 and index == OBJECTED:
                stance = "object"
            elif n == 1 and index == WISH_TO_SPEAK:
                stance = "wish_to_speak"
            section = page.locator(f"#item-{item_id}")
            section.locator(f"input[name=stance][value={stance}]").check()
            section.locator("button[type=submit]").click()
            expect(page.locator(f"#item-{item_id} .mine")).to_be_visible()
            expect(page.locator(f"#item-{item_id} input[name=stance][value={stance}]")).to_be_checked()

    # --- the consent block: proposed at the deadline, adopted at the opening --------------------
    secretary.goto(detail)
    secretary.locator("#propose-consent").click()
    expect(secretary.locator("#consent li")).to_have_count(len(ITEMS) - 2)
    contested = [item_ids[OBJECTED], item_ids[WISH_TO_SPEAK]]
    chair.goto(detail)
    chair.locator("button[data-transition=open]").click()
    chair.locator("#confirm-consent").click()
    expect(chair.locator("#confirm-consent")).to_have_count(0)
    for item_id in item_ids:
        expect(chair.locator(f"#agenda li[data-item='{item_id}'] .outcome")).to_have_count(0 if item_id in contested else 1)

    # --- the live session: the chair runs the two contested items ---------------------------------
    watcher, objector = members[1], members[0]  # the second member watches; the first asks for the floor
    for page in (chair, watcher, objector):
        page.goto(detail)
        page.locator("#live-link").click()
        expect(page.locator("#connection.live")).to_be_visible()
    watcher.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    expect(watcher.locator("#agenda li.running")).to_have_count(0)

    for item_id, speaker_page, speaker in ((contested[0], objector, people["member1"]), (contested[1], watcher, people["member2"])):
        title = ITEMS[item_ids.index(item_id)]
        row = watcher.locator(f"#agenda li[data-item='{item_id}']")
        chair.locator(f"#agenda button.start-item[data-item='{item_id}']").click()
        expect(row).to_have_class(re.compile(r"\brunning\b"))
        expect(row).to_have_attribute("aria-current", "true")
        expect(watcher.locator("#running")).to_have_text(title)
        expect(watcher.locator("#timer-planned")).to_have_text(f"{PLANNED_MINUTES}:00")
        expect(watcher.locator("#timer-actual")).not_to_have_text("--:--")

        speaker_page.locator("#request-floor").click()
        waiting = watcher.locator("#speakers li[data-speaker]", has_text=speaker["name"])
        expect(waiting).to_have_class("waiting")
        chair.locator("#speakers li[data-speaker] button.grant").click()
        expect(waiting).to_have_class("speaking")
        expect(watcher.locator("#countdown")).to_be_visible()
        expect(watcher.locator("#speaker-now")).to_have_text(speaker["name"])
        if item_id == contested[0]:
            watcher.screenshot(path=str(ARTIFACTS / "meetings-e2e-live.png"), full_page=True)
        chair.locator("#speakers li[data-speaker] button.end-floor").click()
        expect(waiting).to_have_class("done")
        expect(watcher.locator("#countdown")).to_be_hidden()

        chair.locator("#end-item").click()
        expect(row).to_have_class(re.compile(r"\bended\b"))
        expect(row).not_to_have_class(re.compile(r"\brunning\b"))
        expect(watcher.locator("#running .muted")).to_be_visible()
        expect(watcher.locator("#timer-actual")).to_have_text("--:--")

    chair.goto(detail)
    chair.locator("button[data-transition=close]").click()
    chair.wait_for_load_state()
    expect(watcher.locator("#meeting-state")).to_have_attribute("data-state", "closed")
    assert watcher.evaluate("window.__sameDocument === true"), "the live page reloaded instead of updating in place"
    watcher.screenshot(path=str(ARTIFACTS / "meetings-e2e-live-closed.png"), full_page=True)

    # --- the minutes: drafted by the office, approved by the chair, downloaded as PDF ------------
    secretary.goto(detail)
    secretary.locator("#minutes-link").click()
    secretary.locator("#minutes-draft").click()
    expect(secretary.locator("#minutes-state")).to_have_attribute("data-state", "draft")
    expect(secretary.locator("#minutes-text")).to_contain_text(ITEMS[0])
    secretary.locator("#minutes-submit").click()
    expect(secretary.locator("#minutes-state")).to_have_attribute("data-state", "submitted")

    chair.goto(detail)
    chair.locator("#minutes-link").click()
    chair.locator("#minutes-approve").click()
    expect(chair.locator("#minutes-state")).to_have_attribute("data-state", "approved")
    with chair.expect_download() as download_info:
        chair.locator("#minutes-pdf").click()
    download = download_info.value
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    (ARTIFACTS / "meetings-e2e-minutes.pdf").write_bytes(pdf)
    from pypdf import PdfReader

    text = unicodedata.normalize("NFC", "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))
    flat = re.sub(r"\s+", " ", text)
    assert TITLE in flat, flat[:1500]
    assert ITEMS[OBJECTED] in flat

    # --- the efficiency report: planned against actual time ----------------------------------------
    chair.goto(detail)
    chair.locator("#report-link").click()
    expect(chair.locator("#planned-minutes")).to_contain_text("120")  # the meeting's planned two hours
    expect(chair.locator("#actual-minutes")).to_contain_text(re.compile(r"\d"))
    expect(chair.locator("#consent-share")).to_contain_text(f"{len(ITEMS) - 2} / {len(ITEMS)}")
    rows = chair.locator("#item-figures tbody tr")
    expect(rows).to_have_count(len(ITEMS))
    for item_id in contested:
        cells = chair.locator(f"#item-figures tr[data-item='{item_id}'] td")
        expect(cells.nth(2)).to_have_text(str(PLANNED_MINUTES))
        expect(cells.nth(3)).to_have_text(re.compile(r"^\d+([.,]\d+)?$"))  # measured, not "—"
        expect(cells.nth(5)).to_contain_text("1 (")  # one speaker
    chair.screenshot(path=str(ARTIFACTS / "meetings-e2e-report.png"), full_page=True)

    for page in (secretary, chair, *members):
        page.context.close()
