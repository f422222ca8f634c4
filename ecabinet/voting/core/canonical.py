"""RFC 8785 JSON Canonicalization Scheme for what ballots and results contain.

Ballots hold objects, arrays, strings, integers, booleans and null. Floating-point numbers are
refused rather than serialised: ECMAScript number formatting is where JCS implementations differ,
and no ballot needs one. Integers are limited to the range JavaScript represents exactly, so the
tablet (``JSON.stringify``) and the server produce the same bytes.

Rules (RFC 8785 section 3.2): no whitespace; object members sorted by the UTF-16 code units of
their names; strings as ECMAScript ``JSON.stringify`` writes them (``\\"``, ``\\\\``, ``\\b``,
``\\f``, ``\\n``, ``\\r``, ``\\t``, other controls as ``\\u00xx`` lower-case; everything else as
UTF-8, unescaped); integers in plain decimal.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder when present
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    pass


# The escapes ECMAScript's JSON.stringify writes are the ones Python's json writes without
# ensure_ascii (\", \\, \b, \f, \n, \r, \t, other controls as lower-case \u00xx, all else as
# itself), so its C string encoder does the work; only lone surrogates, which it would pass
# through, are refused first. test_core checks it against the rule written out character by character.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(value: str) -> str:
    if _LONE_SURROGATE.search(value):
        raise CanonicalError("lone surrogates cannot be canonicalised")
    return encode_basestring(value)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")  # a lone surrogate is refused by _string, not here


def _serialise(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalError(f"integer {value} is outside the range JSON numbers carry exactly")
        out.append(str(value))
    elif isinstance(value, float):
        raise CanonicalError("floating-point numbers are not used in ballots or results")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _serialise(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        names = list(value)
        if not all(isinstance(n, str) for n in names):
            raise CanonicalError("object member names must be strings")
        for index, name in enumerate(sorted(names, key=_utf16_key)):
            if index:
                out.append(",")
            out.append(_string(name))
            out.append(":")
            _serialise(value[name], out)
        out.append("}")
    else:
        raise CanonicalError(f"{type(value).__name__} is not a JSON value")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value``."""
    out: list[str] = []
    _serialise(value, out)
    return "".join(out).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise CanonicalError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _no_float(text: str) -> Any:
    raise CanonicalError("floating-point numbers are not used in ballots or results")


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` and insist it is already canonical (the bytes are what was signed)."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float, parse_constant=_no_float)
    except CanonicalError:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    if canonicalize(value) != data:
        raise CanonicalError("the JSON is not in RFC 8785 canonical form (sorted members, no whitespace)")
    return value
