"""The tablet shell in a real browser: sign-in, enrolment, language, layout, signing out everywhere."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from ecabinet.conftest import fresh_code
from ecabinet.identity.core import totp
from ecabinet.identity.models import Clearance, Role, User, UserSession
from ecabinet.identity.tests.factories import PASSWORD, MinistryFactory, UserFactory
from ecabinet.web.tests.conftest import PHONE, TABLET_LANDSCAPE, TABLET_LARGE, TABLET_PORTRAIT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAP = 44  # px, the smallest control a finger should have to hit

VIEWPORTS = {
    "tablet-1024x768": TABLET_LANDSCAPE,
    "tablet-1366x1024": TABLET_LARGE,
    "tablet-portrait-768x1024": TABLET_PORTRAIT,
    "phone-390x844": PHONE,
}


def t(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


def minister(**kwargs: Any) -> User:
    """A member shaped like the demo's Minister of Finance."""
    ministry = MinistryFactory(name="Bộ Tài chính", short_name="BTC")
    kwargs.setdefault("full_name", "Nguyễn Văn Thắng")
    kwargs.setdefault("title", "Bộ trưởng Bộ Tài chính")
    kwargs.setdefault("role", Role.MEMBER)
    return UserFactory(organisation=ministry, clearance=Clearance.SECRET, **kwargs)


def enter_password(page: Any, user: User) -> None:
    page.goto("/login/")
    page.get_by_label(t("vi", "User name")).fill(user.username)
    page.get_by_label(t("vi", "Password")).fill(PASSWORD)
    page.locator("#login-submit").click()


def sign_in(page: Any, user: User) -> None:
    """Both steps, in Vietnamese, ending on home."""
    enter_password(page, user)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    user.refresh_from_db()
    page.locator("#id_code").fill(fresh_code(user))
    page.locator("#code-submit").click()
    expect(page).to_have_url(re.compile(r"/$"))


def assert_fits_width(page: Any) -> None:
    size = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert size["scroll"] <= size["inner"], f"horizontal overflow on {page.url}: {size}"


SMALL_TARGETS_JS = """
(tap) => [...document.querySelectorAll(
    '.topbar a, .topbar button, .mainnav a, main button, main input:not([type=hidden]), main select, main summary, main .button-link, main .tile')]
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => { const r = el.getBoundingClientRect();
                 return {el: el.outerHTML.slice(0, 90), w: Math.round(r.width), h: Math.round(r.height)}; })
  .filter((r) => r.w < tap || r.h < tap)
"""


def assert_tap_targets(page: Any) -> None:
    small = page.evaluate(SMALL_TARGETS_JS, TAP)
    assert small == [], f"controls smaller than {TAP}px on {page.url}: {small}"


def assert_nav_reachable(page: Any, nav: Any) -> None:
    """Every entry of the navigation is on screen, side by side with nothing cut off."""
    links = nav.get_by_role("link")
    assert links.count() >= 3
    for i in range(links.count()):
        assert_within_viewport(page, links.nth(i))


def assert_within_viewport(page: Any, locator: Any) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{locator} is outside the {width}px viewport: {box}"


@pytest.mark.parametrize("name", list(VIEWPORTS))
def test_member_signs_in_and_the_shell_fits(new_page, artifacts_dir, name):
    viewport = VIEWPORTS[name]
    user = minister()
    page = new_page(viewport)

    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("vi", "Sign in to e-Cabinet"))
    assert_fits_width(page)
    assert_tap_targets(page)
    page.screenshot(path=str(artifacts_dir / f"login-{name}.png"), full_page=True)

    enter_password(page, user)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    expect(page.locator("main")).to_contain_text(user.full_name)
    assert_fits_width(page)
    assert_tap_targets(page)
    user.refresh_from_db()
    page.locator("#id_code").fill(fresh_code(user))
    page.locator("#code-submit").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#welcome")).to_contain_text("Nguyễn Văn Thắng")
    expect(page.locator("main")).to_contain_text("Bộ trưởng Bộ Tài chính")
    assert_fits_width(page)
    assert_tap_targets(page)
    page.screenshot(path=str(artifacts_dir / f"home-{name}.png"), full_page=True)

    nav = page.get_by_role("navigation", name=t("vi", "Main"))
    assert_nav_reachable(page, nav)
    for label in ("Home", "Profile", "Sessions and devices"):
        expect(nav.get_by_role("link", name=t("vi", label), exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name=t("vi", "Home"), exact=True)).to_have_attribute("aria-current", "page")

    # Every page of the shell fits, and the nav takes you there.
    for label, path in (("Profile", "/profile/"), ("Sessions and devices", "/sessions/")):
        nav.get_by_role("link", name=t("vi", label), exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(t("vi", label))
        assert_fits_width(page)
        assert_tap_targets(page)
        page.screenshot(path=str(artifacts_dir / f"{path.strip('/')}-{name}.png"), full_page=True)

    sign_out = page.get_by_role("button", name=t("vi", "Sign out"), exact=True)
    assert_within_viewport(page, sign_out)
    sign_out.click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    assert not UserSession.objects.filter(user=user, ended_at=None).exists()


@pytest.mark.parametrize("name", ["phone-390x844", "tablet-portrait-768x1024"])
def test_security_officer_nav_fits(new_page, artifacts_dir, name):
    """The longest navigation (the security officer's) still fits without sideways scrolling."""
    officer = minister(full_name="Hoàng Minh Tuấn", title="Cán bộ an ninh thông tin", role=Role.SECURITY_OFFICER)
    page = new_page(VIEWPORTS[name])
    sign_in(page, officer)
    nav = page.get_by_role("navigation", name=t("vi", "Main"))
    for label in ("Home", "Audit log", "Sign-in locks", "Profile", "Sessions and devices"):
        expect(nav.get_by_role("link", name=t("vi", label), exact=True)).to_be_visible()
    assert_nav_reachable(page, nav)
    assert_fits_width(page)
    assert_tap_targets(page)
    page.screenshot(path=str(artifacts_dir / f"home-security-officer-{name}.png"), full_page=True)
    nav.get_by_role("link", name=t("vi", "Audit log"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("vi", "Audit log"))
    assert_fits_width(page)
    page.screenshot(path=str(artifacts_dir / f"audit-{name}.png"), full_page=True)
    nav.get_by_role("link", name=t("vi", "Sign-in locks"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("vi", "Sign-in locks"))
    assert_fits_width(page)
    assert_tap_targets(page)


def test_language_switch_changes_the_page_and_sticks(new_page):
    user = minister()
    page = new_page(TABLET_LANDSCAPE)
    sign_in(page, user)
    heading = page.locator("#welcome")
    seen = {}
    for language in ("vi", "en", "fr"):
        if language != "vi":
            page.locator(f".langswitch button[value={language}]").click()
            expect(page).to_have_url(re.compile(r"/$"))
        expect(page.locator("html")).to_have_attribute("lang", language)
        with translation.override(language):
            welcome = gettext("Welcome, %(name)s") % {"name": user.full_name}
        expect(heading).to_have_text(welcome)
        nav = page.get_by_role("navigation", name=t(language, "Main"))
        expect(nav.get_by_role("link", name=t(language, "Sessions and devices"), exact=True)).to_be_visible()
        expect(page.locator(f".langswitch button[value={language}]")).to_have_attribute("aria-current", "true")
        seen[language] = heading.inner_text()
    assert len(set(seen.values())) == 3, seen

    # The choice is kept for the next page, and for the sign-in page after signing out.
    nav.get_by_role("link", name=t("fr", "Profile"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("fr", "Profile"))
    page.get_by_role("button", name=t("fr", "Sign out"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("fr", "Sign in to e-Cabinet"))
    expect(page.get_by_label(t("fr", "Password"))).to_be_visible()


def test_sign_out_everywhere_ends_the_other_tablet(new_page):
    user = minister()
    first, second = new_page(TABLET_LANDSCAPE), new_page(TABLET_PORTRAIT)
    sign_in(first, user)
    sign_in(second, user)
    assert UserSession.objects.filter(user=user, ended_at=None).count() == 2

    first.goto("/sessions/")
    expect(first.locator("#sessions-table tbody tr")).to_have_count(2)
    first.get_by_role("button", name=t("vi", "Sign out everywhere")).click()
    expect(first).to_have_url(re.compile(r"/login/$"))
    expect(first.get_by_role("status")).to_have_text(t("vi", "You have been signed out on every device."))

    second.goto("/profile/")
    expect(second).to_have_url(re.compile(r"/login/"))
    expect(second.get_by_role("heading", level=1)).to_have_text(t("vi", "Sign in to e-Cabinet"))
    assert not UserSession.objects.filter(user=user, ended_at=None).exists()


def wrong_code_for(user: User) -> str:
    """Six digits that no step in the accepted window produces right now."""
    now = time.time()
    valid = {totp.code_for(user.test_totp_secret, now=now + d * totp.STEP_SECONDS) for d in range(-2, 3)}  # type: ignore[attr-defined]
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid)


def test_wrong_code_shows_the_error_and_stays_on_the_code_page(new_page):
    user = minister()
    page = new_page(TABLET_LANDSCAPE)
    enter_password(page, user)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    page.locator("#id_code").fill(wrong_code_for(user))
    page.locator("#code-submit").click()

    expect(page.get_by_role("alert")).to_have_text(t("vi", "The code is wrong, expired or already used."))
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    expect(page.locator("#id_code")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))

    # The pending sign-in survives the mistake: the right code still gets in.
    page.goto("/login/code/")
    user.refresh_from_db()
    page.locator("#id_code").fill(fresh_code(user))
    page.locator("#code-submit").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#welcome")).to_contain_text(user.full_name)


def test_first_sign_in_enrols_an_authenticator(new_page, artifacts_dir):
    ministry = MinistryFactory(name="Bộ Y tế", short_name="BYT")
    user = UserFactory(mfa=False, role=Role.MEMBER, full_name="Đào Hồng Lan", title="Bộ trưởng Bộ Y tế", organisation=ministry)
    page = new_page(TABLET_PORTRAIT)
    enter_password(page, user)

    expect(page).to_have_url(re.compile(r"/login/enrol/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(t("vi", "Set up your authenticator app"))
    qr = page.get_by_role("img", name=t("vi", "QR code to scan with your authenticator app"))
    expect(qr.locator("svg")).to_be_visible()
    box = qr.locator("svg").bounding_box()
    assert box is not None and box["width"] >= 150 and box["height"] >= 150
    assert_fits_width(page)
    assert_tap_targets(page)

    page.get_by_text(t("vi", "Cannot scan? Enter this key by hand")).click()
    secret_box = page.locator("#totp-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    page.screenshot(path=str(artifacts_dir / "enrol-tablet-portrait-768x1024.png"), full_page=True)

    page.locator("#id_code").fill(totp.code_for(secret))
    page.locator("#code-submit").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#welcome")).to_contain_text("Đào Hồng Lan")
    expect(page.get_by_role("status")).to_contain_text(t("vi", "Your authenticator app is set up."))
    user.refresh_from_db()
    assert user.mfa_enrolled


def test_web_app_manifest_is_valid_and_installable(new_page, live_server):
    page = new_page(TABLET_LANDSCAPE)
    page.goto("/login/")
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/static/web/manifest.webmanifest")
    assert manifest["errors"] == []
    parsed = manifest["manifest"]
    assert parsed["display"] == "kStandalone"
    assert parsed["startUrl"] == parsed["scope"] == live_server.url + "/"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in parsed["icons"]}
    # Chromium's own verdict; a test browser context is always incognito, which it reports too.
    errors = {e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    assert errors <= {"in-incognito"}, errors

    declared = json.loads(manifest["data"])["icons"]
    assert any(icon.get("purpose") == "maskable" for icon in declared)
    for icon in parsed["icons"]:
        response = page.request.get(icon["url"])
        assert response.ok and response.headers["content-type"] == icon["type"], icon
        if icon["type"] == "image/png":
            size = page.evaluate(
                "async (url) => { const img = new Image(); img.src = url; await img.decode(); return `${img.naturalWidth}x${img.naturalHeight}`; }",
                icon["url"],
            )
            assert size == icon["sizes"], icon
    for rel in ("apple-touch-icon", "icon"):
        for href in page.locator(f'link[rel="{rel}"]').evaluate_all("links => links.map(l => l.href)"):
            assert page.request.get(href).ok, href
