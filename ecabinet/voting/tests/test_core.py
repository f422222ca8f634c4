"""The pure core: RFC 8785 canonical JSON, the ballot's form, and the tally with each rule."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from ecabinet.voting.core import tally as t
from ecabinet.voting.core.ballot import Option, build_ballot, parse_ballot, poll_statement, statement_sha256
from ecabinet.voting.core.canonical import CanonicalError, canonicalize, parse_canonical
from ecabinet.voting.core.errors import BallotMalformed

HASH = "ab" * 32


def test_canonical_sorts_members_by_utf16_and_drops_whitespace():
    # RFC 8785 section 3.2.3's ordering example: by UTF-16 code units, not code points.
    value = {"\u20ac": "Euro", "\r": "CR", "\ufb33": "Hebrew", "1": "One", "\U0001f600": "Emoji", "\u0080": "Control", "\u00f6": "o"}
    names = list(json.loads(canonicalize(value)))
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonicalize({"b": [1, True, None], "a": {"y": "x"}}) == b'{"a":{"y":"x"},"b":[1,true,null]}'


def test_canonical_strings_follow_ecmascript_escaping():
    assert canonicalize('a"b\\c\n\t\u0001\u007fđ') == '"a\\"b\\\\c\\n\\t\\u0001\u007fđ"'.encode()
    assert canonicalize("Phê duyệt") == '"Phê duyệt"'.encode()


def _ecmascript_string(value):
    """JSON.stringify's string rule written out character by character (the spec the fast path must match)."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(short.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in value) + '"'


def test_canonical_strings_match_the_rule_for_every_plane_0_character():
    text = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF) + "\U0001f5f3"
    assert canonicalize(text) == _ecmascript_string(text).encode()
    assert canonicalize({text[:300]: text[300:600]}) == ("{" + _ecmascript_string(text[:300]) + ":" + _ecmascript_string(text[300:600]) + "}").encode()


@pytest.mark.parametrize("value", ["a\ud800", "\udfffb", {"\udc00": 1}, ["ok", "x\udbff"]])
def test_canonical_refuses_lone_surrogates(value):
    with pytest.raises(CanonicalError, match="surrogate"):
        canonicalize(value)


@pytest.mark.parametrize("value", [1.5, 2**53, float("nan"), {1: "x"}, object()])
def test_canonical_refuses_what_ballots_never_hold(value):
    with pytest.raises(CanonicalError):
        canonicalize(value)


@pytest.mark.parametrize("text", [b'{"b":1, "a":2}', b'{"b":1,"a":2}', b'{"a":1,"a":1}', b'{"a":1.0}', b"\xff", b"[1,]"])
def test_parse_canonical_refuses_non_canonical_or_broken_input(text):
    with pytest.raises(CanonicalError):
        parse_canonical(text)


def _ballot(**override):
    fields = {
        "poll": 7,
        "question_sha256": HASH,
        "voter": 3,
        "certificate_sha256": "cd" * 32,
        "choice": "approve",
        "nonce": "n" * 24,
        "client_time": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    }
    fields.update(override)
    return build_ballot(**fields)


def test_a_built_ballot_parses_back_to_its_fields():
    data = _ballot()
    parsed = parse_ballot(data)
    assert (parsed.poll, parsed.voter, parsed.choice, parsed.client_time) == (7, 3, "approve", "2026-01-02T03:04:05.678Z")
    assert parsed.sha256 == hashlib.sha256(data).hexdigest()
    assert data.startswith(b'{"certificate_sha256":') and b" " not in data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"format":"ecabinet-ballot/1"}',
        _ballot().replace(b'"poll":7', b'"poll":"7"'),
        _ballot().replace(b'"voter":3', b'"voter":0'),
        _ballot(nonce="short"),
        _ballot(question_sha256="XYZ"),
        _ballot().replace(b"ecabinet-ballot/1", b"ecabinet-ballot/9"),
        _ballot().replace(b"{", b'{"extra":1,', 1),
        b" " + _ballot(),
    ],
)
def test_malformed_ballots_are_refused(data):
    with pytest.raises(BallotMalformed):
        parse_ballot(data)


def test_the_statement_hash_changes_with_question_or_options():
    base = {"poll_id": 1, "question": "Q?", "options": [Option("approve", "Approve"), Option("reject", "Reject")]}
    common = {"rule": "simple", "quorum": (1, 2), "allow_change": False, "meeting_id": 4, "item_id": 5}
    one = statement_sha256(poll_statement(**base, **common))
    assert one == statement_sha256(poll_statement(**base, **common))
    assert one != statement_sha256(poll_statement(**{**base, "question": "Q!"}, **common))
    assert one != statement_sha256(poll_statement(**{**base, "options": [Option("approve", "Yes"), Option("reject", "Reject")]}, **common))
    assert poll_statement(**base, **common)["roll_call"] is True


STANDARD = ["approve", "reject", "abstain"]


@pytest.mark.parametrize(
    ("rule", "choices", "eligible", "outcome"),
    [
        ("simple", ["approve", "approve", "reject", "abstain", "abstain"], 5, "adopted"),
        ("simple", ["approve", "reject", "abstain"], 5, "not_adopted"),  # a tie is not a majority
        ("simple", ["reject", "reject", "approve"], 5, "not_adopted"),
        ("absolute", ["approve", "approve", "reject"], 5, "not_adopted"),  # 2 of 5 members is not more than half
        ("absolute", ["approve", "approve", "approve"], 5, "adopted"),
        ("two_thirds", ["approve", "approve", "reject"], 3, "adopted"),  # exactly two thirds
        ("two_thirds", ["approve", "approve", "reject", "reject", "approve"], 5, "not_adopted"),
        ("simple", ["approve"], 5, "no_quorum"),
        ("simple", ["abstain", "abstain", "abstain"], 5, "not_adopted"),
    ],
)
def test_rules_on_approve_reject_abstain(rule, choices, eligible, outcome):
    result = t.tally(option_keys=STANDARD, choices=choices, eligible=eligible, rule=rule, quorum=(1, 2))
    assert result["outcome"] == outcome
    if outcome == "adopted":
        assert result["winner"] == "approve"
    if outcome == "no_quorum":
        assert result["winner"] is None and not result["quorum_met"]
    assert sum(result["counts"].values()) == len(choices) == result["cast"]


def test_custom_options_pick_a_winner_or_no_decision():
    keys = ["a", "b", "c"]
    assert t.tally(option_keys=keys, choices=["a", "a", "b"], eligible=3, rule="simple", quorum=(0, 1))["winner"] == "a"
    assert t.tally(option_keys=keys, choices=["a", "b", "c"], eligible=3, rule="simple", quorum=(0, 1))["outcome"] == "no_decision"
    assert t.tally(option_keys=keys, choices=["a", "a", "b", "b"], eligible=4, rule="simple", quorum=(0, 1))["outcome"] == "no_decision"
    with pytest.raises(ValueError, match="not an option"):
        t.tally(option_keys=keys, choices=["z"], eligible=1, rule="simple", quorum=(0, 1))


def test_quorum_is_exact_integer_arithmetic():
    assert t.quorum_met(3, 6, (1, 2)) and not t.quorum_met(2, 6, (1, 2))
    assert t.quorum_met(4, 6, (2, 3)) and not t.quorum_met(3, 6, (2, 3))
    assert t.quorum_met(0, 6, (0, 1))


def test_the_last_ballot_of_each_voter_counts():
    ballots = [t.CastBallot(1, "approve", 10, "h1"), t.CastBallot(2, "reject", 11, "h2"), t.CastBallot(1, "reject", 12, "h3")]
    counted, superseded = t.counted_ballots(reversed(ballots))
    assert [b.sha256 for b in counted] == ["h2", "h3"]
    assert [b.sha256 for b in superseded] == ["h1"]
