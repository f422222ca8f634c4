"""Vietnamese first, English and French: the catalogues are complete, compiled, and used.

The .po files are read with a small parser (no polib dependency); it understands what
makemessages writes: comments and flags, msgctxt, msgid, msgid_plural, msgstr[n], obsolete #~.
"""

from __future__ import annotations

import gettext as gnu_gettext
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PACKAGE_DIR = LOCALE_DIR.parent
TRANSLATED = ("vi", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\w*\}")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def parse_po(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None  # which field a continuation line extends
    keyword = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+"(.*)"$')

    def start_if_needed(force: bool) -> Entry:
        nonlocal entry
        if entry is None or force:
            entry = Entry()
            entries.append(entry)
        return entry

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if not line.startswith(("msg", '"')):
                continue
        elif not line:
            entry, target = None, None
            continue
        elif line.startswith("#"):
            # A comment after a msgstr begins the next entry even without a blank line.
            if entry is not None and entry.msgstr:
                entry, target = None, None
            current = start_if_needed(False)
            if line.startswith("#,"):
                current.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        match = keyword.match(line)
        if match:
            name, index, text = match.group(1), match.group(2), _unescape(match.group(3))
            if name in ("msgctxt", "msgid") and entry is not None and entry.msgstr:
                entry = None
            current = start_if_needed(False)
            current.obsolete = current.obsolete or obsolete
            if name == "msgstr":
                i = int(index or 0)
                while len(current.msgstr) <= i:
                    current.msgstr.append("")
                current.msgstr[i] = text
                target = ("msgstr", i)
            else:
                setattr(current, name, text)
                target = (name, 0)
        elif line.startswith('"') and entry is not None and target is not None:
            text = _unescape(line[1:-1])
            if target[0] == "msgstr":
                entry.msgstr[target[1]] += text
            else:
                setattr(entry, target[0], (getattr(entry, target[0]) or "") + text)
    return entries


def catalogue(language: str) -> list[Entry]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"{path} is missing: run makemessages (see ecabinet/web/tests/test_i18n.py)"
    return [e for e in parse_po(path) if not e.obsolete]


def messages_of(language: str) -> list[Entry]:
    return [e for e in catalogue(language) if e.msgid != ""]


def test_parser_reads_what_makemessages_writes(tmp_path):
    sample = tmp_path / "django.po"
    sample.write_text(
        'msgid ""\nmsgstr ""\n"Language: vi\\n"\n'
        '#: a.py:1\n#, python-format\nmsgid ""\n"Hello %(name)s, "\n"welcome"\nmsgstr "Xin chào %(name)s"\n\n'
        'msgctxt "verb"\nmsgid "Object"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "One"\nmsgid_plural "Many"\nmsgstr[0] "Một"\nmsgstr[1] ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "Đã bỏ"\n',
        encoding="utf-8",
    )
    entries = parse_po(sample)
    assert [e.key for e in entries] == ["", "Hello %(name)s, welcome", "verb\x04Object", "One", "Gone"]
    assert entries[0].msgstr == ["Language: vi\n"]
    assert entries[1].flags == {"python-format"} and entries[1].msgstr == ["Xin chào %(name)s"]
    assert entries[2].msgstr == [""]
    assert entries[3].flags == {"fuzzy"} and entries[3].msgid_plural == "Many" and entries[3].msgstr == ["Một", ""]
    assert entries[4].obsolete and entries[4].msgstr == ["Đã bỏ"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    entries = catalogue(language)
    header = next(e for e in entries if e.msgid == "")
    assert "fuzzy" not in header.flags, "the header is still marked fuzzy"
    assert f"Language: {language}\n" in header.msgstr[0]
    messages = [e for e in entries if e.msgid != ""]
    assert len(messages) > 50, f"only {len(messages)} messages: the catalogue looks truncated"
    fuzzy = [e.key for e in messages if "fuzzy" in e.flags]
    empty = [e.key for e in messages if not e.msgstr or any(not s.strip() for s in e.msgstr)]
    assert fuzzy == [], f"fuzzy in {language}: {fuzzy}"
    assert empty == [], f"untranslated in {language}: {empty}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language):
    wrong = {}
    for e in messages_of(language):
        expected = sorted(PLACEHOLDER.findall(e.msgid))
        for s in e.msgstr:
            if sorted(PLACEHOLDER.findall(s)) != expected:
                wrong[e.key] = s
    assert wrong == {}


def test_vietnamese_is_not_english_left_in_place():
    """An English source string copied unchanged into the Vietnamese catalogue is a miss."""
    copied = [e.msgid for e in messages_of("vi") if e.msgid.isascii() and re.search("[A-Za-z]", e.msgid) and e.msgstr[0] == e.msgid]
    assert copied == []
    # Vietnamese is written with its diacritics: most translations carry some.
    marked = [e for e in messages_of("vi") if not e.msgstr[0].isascii()]
    assert len(marked) >= 0.8 * len(messages_of("vi"))


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalogue_matches_the_po_file(language):
    mo = LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"
    assert mo.exists(), f"{mo} is missing: run `make messages`"
    with mo.open("rb") as fh:
        compiled = gnu_gettext.GNUTranslations(fh)
    stale = {}
    for e in messages_of(language):
        if e.msgid_plural is None:
            got = compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else compiled.gettext(e.msgid)
            if got != e.msgstr[0]:
                stale[e.key] = got
    assert stale == {}, f"{mo} is older than the .po file: run `make messages` ({len(stale)} differ)"


def test_catalogues_cover_every_source_string(tmp_path):
    """Re-extracting the messages from a copy of the sources finds nothing the .po files lack."""
    assert shutil.which("xgettext"), "gettext is missing: run `make sysdeps`"
    copy = tmp_path / "ecabinet"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static", "migrations"))
    # LOCALE_PATHS pointed at the copy too, so makemessages cannot touch the real catalogues.
    with pytest.MonkeyPatch.context() as mp, override_settings(LOCALE_PATHS=[copy / "locale"]):
        mp.chdir(copy)
        call_command("makemessages", locale=["vi"], ignore_patterns=["tests/*"], verbosity=0, no_obsolete=True)
    extracted = {e.key for e in parse_po(copy / "locale" / "vi" / "LC_MESSAGES" / "django.po") if e.msgid != ""}
    for language in TRANSLATED:
        known = {e.key for e in messages_of(language)}
        assert extracted - known == set(), f"{language}: new source strings {sorted(extracted - known)}; run makemessages and translate them"


class _LangSwitch(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.html_lang = ""
        self.form_action = ""
        self.in_form = False
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang") or ""
        if tag == "form" and "langswitch" in (a.get("class") or ""):
            self.in_form = True
            self.form_action = a.get("action") or ""
        if self.in_form and tag == "button" and a.get("name") == "language":
            self.values.append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def read_page(response) -> _LangSwitch:
    page = _LangSwitch()
    page.feed(response.content.decode())
    return page


def in_language(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


@pytest.mark.django_db
def test_login_page_is_vietnamese_by_default():
    response = Client().get("/login/")
    page = read_page(response)
    assert response.status_code == 200
    assert page.html_lang == "vi"
    body = response.content.decode()
    heading = in_language("vi", "Sign in to e-Cabinet")
    assert heading != "Sign in to e-Cabinet"
    assert escape(heading) in body and "Sign in to e-Cabinet" not in body
    assert escape(in_language("vi", "User name")) in body
    # The switch offers every configured language and posts to Django's set_language view.
    assert page.form_action == "/i18n/setlang/"
    assert page.values == [code for code, _ in settings.LANGUAGES]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en", "vi"])
def test_language_switch_posts_and_the_login_page_follows(language):
    client = Client()
    if language == "vi":  # from another language back to Vietnamese
        client.post("/i18n/setlang/", {"language": "fr", "next": "/login/"})
    response = client.post("/i18n/setlang/", {"language": language, "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
    page_response = client.get("/login/")
    page = read_page(page_response)
    assert page.html_lang == language
    body = page_response.content.decode()
    assert escape(in_language(language, "Sign in to e-Cabinet")) in body
    assert escape(in_language(language, "Password")) in body
    others = {escape(in_language(other, "Sign in to e-Cabinet")) for other in ("vi", "en", "fr") if other != language}
    assert not any(text in body for text in others)


@pytest.mark.django_db
def test_error_messages_from_views_are_translated():
    client = Client()
    client.post("/i18n/setlang/", {"language": "fr", "next": "/login/"})
    response = client.post("/login/", {"username": "nobody-here", "password": "wrong password"})
    assert response.status_code == 401
    expected = in_language("fr", "Wrong user name or password.")
    assert expected != "Wrong user name or password."
    assert escape(expected) in response.content.decode()
