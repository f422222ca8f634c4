"""Filling an SMS gateway's request template. Pure.

The template is the request body with ``{to}`` and ``{text}`` placeholders; values are escaped for
the body's type (JSON string content, or form-encoding), so a message cannot break out of it.
"""

from __future__ import annotations

import json
from urllib.parse import quote_plus

DEFAULT_TEMPLATE = '{"to": "{to}", "text": "{text}"}'


def fill(template: str, *, to: str, text: str, form: bool = False) -> str:
    def esc(value: str) -> str:
        return quote_plus(value) if form else json.dumps(value)[1:-1]

    return template.replace("{to}", esc(to)).replace("{text}", esc(text))
