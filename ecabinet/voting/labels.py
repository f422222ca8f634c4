"""Option labels as a reader sees them.

A poll's statement (hashed into every ballot) fixes its options as ``{"key", "label"}``; the
standard ones carry the bilingual labels of ``tally.STANDARD_OPTIONS`` ("Tán thành / Approve"),
so the signed text reads the same in any language. A ballot signs the option's *key* and the
statement's hash, never a label. The tablet pages show a standard option (its key with exactly
the standard label) in the reader's language instead; any other label (a custom option, or a
standard key someone labelled differently) is shown exactly as written. The statement, its hash,
the evidence and ``ecabinet poll verify`` are untouched: they never read these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import pgettext_lazy

from ecabinet.voting.core import tally as tally_core

STANDARD_LABELS = {
    "approve": pgettext_lazy("vote option", "Approve"),
    "reject": pgettext_lazy("vote option", "Reject"),
    "abstain": pgettext_lazy("vote option", "Abstain"),
}
_STANDARD = dict(tally_core.STANDARD_OPTIONS)


def display_options(options: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The options in the statement's order, each with the label to show in the current language."""
    shown = []
    for option in options:
        key, label = str(option["key"]), str(option["label"])
        if _STANDARD.get(key) == label and key in STANDARD_LABELS:
            label = str(STANDARD_LABELS[key])
        shown.append({"key": key, "label": label})
    return shown
