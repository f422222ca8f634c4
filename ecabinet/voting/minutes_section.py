"""The vote results of each agenda item, as lines in the drafted minutes."""

from __future__ import annotations

from typing import Any

from ecabinet.meetings.minutes import register_item_section

LABELS = {
    "vi": {"title": "Biểu quyết (ký số, ghi danh)", "outcome": "Kết quả", "counts": "Số phiếu", "cast": "phiếu hợp lệ / cử tri"},
    "en": {"title": "Vote (signed, roll-call)", "outcome": "Outcome", "counts": "Votes", "cast": "ballots counted / eligible"},
}


OUTCOMES = {
    "vi": {
        "adopted": "Thông qua",
        "not_adopted": "Không thông qua",
        "no_quorum": "Không đủ túc số",
        "decided": "Đã quyết định",
        "no_decision": "Chưa quyết định",
    },
    "en": {"adopted": "Adopted", "not_adopted": "Not adopted", "no_quorum": "No quorum", "decided": "Decided", "no_decision": "No decision"},
}


@register_item_section
def vote_lines(item: Any, language: str) -> list[str]:
    from ecabinet.voting.models import Poll

    labels = LABELS.get(language, LABELS["en"])
    lines: list[str] = []
    for poll in Poll.objects.filter(item_id=getattr(item, "pk", None), state=Poll.State.CLOSED).order_by("closed_at"):
        tally = (poll.result or {}).get("tally", {})
        names = {o["key"]: o["label"] for o in poll.options}
        counts = ", ".join(f"{names.get(k, k)}: {v}" for k, v in tally.get("counts", {}).items())
        lines.append(f"{labels['title']} — {poll.question}")
        outcome = OUTCOMES.get(language, OUTCOMES["en"]).get(tally.get("outcome", ""), tally.get("outcome", ""))
        if tally.get("winner") and tally.get("outcome") == "decided":
            outcome += f" ({names.get(tally['winner'], tally['winner'])})"
        lines.append(f"  {labels['outcome']}: {outcome}; {labels['counts']}: {counts}")
        lines.append(f"  {tally.get('cast', 0)}/{tally.get('eligible', 0)} {labels['cast']}")
    return lines
