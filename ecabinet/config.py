"""Typed parsers for ``ECABINET_*`` environment variables.

Every setting the project reads from the environment goes through one of these, so a wrong value
stops start-up with a message that names the variable, instead of failing later in a request.
Pure Python: no Django import, so it can be tested alone.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from pathlib import Path

PREFIX = "ECABINET_"
# Values that mean "somebody copied the example and forgot to change it".
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "placeholder", "xxx", "todo"})


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Env:
    # The methods are named after the types they return, which shadows those names inside the
    # class body: annotations here spell the types as builtins.str and so on.
    def __init__(self, environ: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self.environ.get(PREFIX + name)
        return None if value is None else value.strip()

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self._raw(name)
        return default if value in (None, "") else value

    def required_str(self, name: builtins.str) -> builtins.str:
        value = self._raw(name)
        if value is None or value == "":
            raise ConfigError(f"{PREFIX}{name} must be set")
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._raw(name)
        if value in (None, ""):
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{PREFIX}{name} must be a boolean (true/false), got {value!r}")

    def int(self, name: builtins.str, default: builtins.int, *, minimum: builtins.int | None = None, maximum: builtins.int | None = None) -> builtins.int:
        value = self._raw(name)
        if value in (None, ""):
            return default
        try:
            number = int(value)  # type: ignore[arg-type]
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ConfigError(f"{PREFIX}{name} must be at most {maximum}, got {number}")
        return number

    def list(self, name: builtins.str, default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value in (None, ""):
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]  # type: ignore[union-attr]

    def path(self, name: builtins.str, default: Path) -> Path:
        value = self._raw(name)
        return Path(value).expanduser().resolve() if value else default

    def choice(self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]) -> builtins.str:
        value = self._raw(name) or default
        if value not in choices:
            raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, name: builtins.str, schemes: tuple[builtins.str, ...]) -> builtins.str | None:
        value = self._raw(name)
        if not value:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            raise ConfigError(f"{PREFIX}{name} must be a URL starting with one of {', '.join(s + '://' for s in schemes)}")
        return value


def check_secret(name: str, value: str | None, *, min_length: int = 32) -> str:
    """A production secret must be present, not a placeholder, and long enough to resist guessing."""
    if value is None or value.strip().lower() in PLACEHOLDERS or value.startswith("insecure"):
        raise ConfigError(f"{PREFIX}{name} must be set to a real secret in production (not a placeholder)")
    if len(value) < min_length:
        raise ConfigError(f"{PREFIX}{name} must be at least {min_length} characters long")
    return value
