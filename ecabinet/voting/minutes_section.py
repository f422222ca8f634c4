"""The vote results of each agenda item, as lines in the drafted minutes."""

from __future__ import annotations

from typing import Any

from ecabinet.meetings.minutes import register_item_section

LABELS = {
    "vi": {"title": "Biểu quyết (ký số, ghi danh)", "outcome": "Kết quả", "counts": "Số phiếu", "cast": "phiếu hợp lệ / cử tri"},
    "en": {"title": "Vote (signed, roll-call)", "outcome": "Outcome", "counts": "Votes", "cast": "ballots counted / eligible"},
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
        lines.append(f"  {labels['outcome']}: {tally.get('outcome', '')}; {labels['counts']}: {counts}")
        lines.append(f"  {tally.get('cast', 0)}/{tally.get('eligible', 0)} {labels['cast']}")
    return lines
