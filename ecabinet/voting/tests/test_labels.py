"""Standard option labels are shown in the reader's language; the signed statement keeps its own."""

from __future__ import annotations

import json
import re

from ecabinet.voting import actions, evidence, labels
from ecabinet.voting.core import tally as tally_core
from ecabinet.voting.core.ballot import statement_sha256
from ecabinet.voting.core.evidence import verify_folder
from ecabinet.voting.tests.conftest import cast


def shown_options(html: str) -> list[dict[str, str]]:
    return json.loads(re.search(r'<script id="vote-options" type="application/json">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]


def radio_labels(html: str) -> list[str]:
    return [label.strip() for label in re.findall(r'<input type="radio" name="choice" value="[^"]+">([^<]+)</label>', html)]


def test_standard_options_read_in_the_readers_language(voting, item_poll, login_client):
    member = login_client(voting.members[0].user)
    statement_before = dict(item_poll.statement)
    expected = {
        "vi": ["Tán thành", "Không tán thành", "Không biểu quyết"],
        "fr": ["Pour", "Contre", "Abstention"],
        "en": ["Approve", "Reject", "Abstain"],
    }
    for language, words in expected.items():
        html = member.get(f"/voting/{item_poll.pk}/", headers={"accept-language": language}).content.decode()
        assert radio_labels(html) == words, (language, radio_labels(html))
        assert [o["label"] for o in shown_options(html)] == words
        assert [o["key"] for o in shown_options(html)] == ["approve", "reject", "abstain"]
        assert item_poll.statement_sha256 in html  # the fingerprint shown is still the signed statement's
    # The statement keeps the bilingual labels it was hashed with.
    item_poll.refresh_from_db()
    assert item_poll.statement == statement_before
    assert [(o["key"], o["label"]) for o in item_poll.statement["options"]] == list(tally_core.STANDARD_OPTIONS)
    assert statement_sha256(item_poll.statement) == item_poll.statement_sha256


def test_custom_labels_and_relabelled_standard_keys_are_shown_as_written(voting, login_client):
    written = [("approve", "Đồng ý với phương án 1"), ("agree_2", "Phương án 2"), ("abstain", "Không biểu quyết / Abstain")]
    poll = actions.create_poll(question="Chọn phương án?", item=voting.cabinet.items[0], options=written, acting_user=voting.cabinet.chair)
    actions.open_poll(poll, acting_user=voting.cabinet.chair)
    html = login_client(voting.members[0].user).get(f"/voting/{poll.pk}/", headers={"accept-language": "fr"}).content.decode()
    # Only the label that is exactly the standard one is translated.
    assert radio_labels(html) == ["Đồng ý với phương án 1", "Phương án 2", "Abstention"]
    assert labels.display_options(poll.options)[:2] == [{"key": k, "label": v} for k, v in written[:2]]


def test_the_evidence_keeps_the_signed_bilingual_labels_and_verifies(voting, item_poll, login_client, tmp_path):
    html = login_client(voting.members[0].user).get(f"/voting/{item_poll.pk}/", headers={"accept-language": "fr"}).content.decode()
    assert radio_labels(html)[0] == "Pour"
    for voter in voting.members[:3]:
        cast(voter, item_poll, "approve")
    closed = actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    folder = tmp_path / "evidence"
    evidence.write_folder(evidence.export(closed), folder)
    result = json.loads((folder / "result.json").read_text())
    assert [o["label"] for o in result["statement"]["options"]] == [label for _, label in tally_core.STANDARD_OPTIONS]
    report = verify_folder(folder)
    assert report.ok, report
