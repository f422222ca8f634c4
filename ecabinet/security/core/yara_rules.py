"""Loading and running YARA rules: the shipped ones plus an operator's folder.

The fingerprint is a SHA-256 over every rule file's name and text, recorded on each scanned
version, so ``ecabinet documents rescan`` knows which files were scanned with older rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yara

from ecabinet.security.core.verdict import Finding

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "rules"
MAX_RULE_FILES = 1000


class RuleError(Exception):
    """A rule file does not compile; the message names it."""


@dataclass(frozen=True)
class CompiledRules:
    rules: Any
    fingerprint: str
    files: tuple[str, ...]

    def _findings(self, matches: list[Any], path: str) -> list[Finding]:
        found = []
        for match in matches:
            meta = match.meta or {}
            action = "disarm" if meta.get("action") == "disarm" else "block"
            reason = "" if action == "disarm" else str(meta.get("reason", "malicious_content"))
            found.append(Finding(engine="yara", name=f"{match.namespace}.{match.rule}", path=path, action=action, reason=reason))
        return found

    def match_file(self, filepath: str, *, inner_path: str = "") -> list[Finding]:
        return self._findings(self.rules.match(filepath=filepath, timeout=120), inner_path)

    def match_data(self, data: bytes, *, inner_path: str) -> list[Finding]:
        return self._findings(self.rules.match(data=data, timeout=120), inner_path)


def rule_files(extra_dirs: list[Path]) -> list[Path]:
    files = sorted(SHIPPED_DIR.glob("*.yar"))
    for folder in extra_dirs:
        if folder.is_dir():
            files += sorted(p for p in folder.glob("*.yar") if p.is_file())
    if len(files) > MAX_RULE_FILES:
        raise RuleError(f"more than {MAX_RULE_FILES} rule files")
    return files


def compile_rules(extra_dirs: list[Path] | None = None) -> CompiledRules:
    files = rule_files(extra_dirs or [])
    digest = hashlib.sha256()
    sources: dict[str, str] = {}
    for index, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        # Shipped and operator files may share a name; the namespace keeps their rules apart.
        namespace = path.stem if path.parent == SHIPPED_DIR else f"local{index}_{path.stem}"
        sources[namespace] = text
        digest.update(namespace.encode() + b"\x00" + text.encode() + b"\x00")
    try:
        rules = yara.compile(sources=sources)
    except yara.Error as exc:
        raise RuleError(f"YARA rules do not compile: {exc}") from None
    return CompiledRules(rules=rules, fingerprint=digest.hexdigest(), files=tuple(str(p) for p in files))
