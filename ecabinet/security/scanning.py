"""The Django side of Level 1 scanning: the scanner the settings describe, and its health."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from ecabinet.security.core.clamd import ClamdClient
from ecabinet.security.core.scan import Limits, Scanner
from ecabinet.security.core.verdict import ScannerUnavailable
from ecabinet.security.core.yara_rules import CompiledRules, compile_rules, rule_files

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _rules_state() -> tuple[tuple[str, float], ...]:
    extra = [Path(settings.YARA_DIR)] if settings.YARA_DIR else []
    return tuple((str(p), p.stat().st_mtime) for p in rule_files(extra))


def current_rules() -> CompiledRules:
    """The compiled rules, recompiled when a rule file is added, removed or changed."""
    state = _rules_state()
    with _lock:
        if _cache.get("state") != state:
            extra = [Path(settings.YARA_DIR)] if settings.YARA_DIR else []
            _cache["rules"] = compile_rules(extra)
            _cache["state"] = state
        rules: CompiledRules = _cache["rules"]
    return rules


def clamd_client() -> ClamdClient | None:
    if not settings.CLAMD_URL:
        return None
    return ClamdClient(settings.CLAMD_URL, timeout=float(settings.CLAMD_TIMEOUT))


def limits() -> Limits:
    return Limits(
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_entries=settings.ARCHIVE_MAX_ENTRIES,
        max_ratio=settings.ARCHIVE_MAX_RATIO,
        max_depth=settings.ARCHIVE_MAX_DEPTH,
        max_total_bytes=settings.ARCHIVE_MAX_TOTAL_BYTES,
    )


def scanner() -> Scanner:
    return Scanner(rules=current_rules(), clamd=clamd_client(), limits=limits())


def scanner_status() -> dict[str, Any]:
    """For /readyz: YARA rules compile; clamd, when configured, answers PING."""
    status: dict[str, Any] = {"ok": True}
    try:
        rules = current_rules()
        status["yara"] = {"ok": True, "rule_files": len(rules.files), "fingerprint": rules.fingerprint[:16]}
    except Exception as exc:
        status["yara"] = {"ok": False, "error": str(exc)[:200]}
        status["ok"] = False
    client = clamd_client()
    if client is None:
        status["clamd"] = {"configured": False}
    else:
        try:
            alive = client.ping()
            status["clamd"] = {"configured": True, "ok": alive}
        except ScannerUnavailable as exc:
            status["clamd"] = {"configured": True, "ok": False, "error": str(exc)[:200]}
            alive = False
        status["ok"] = status["ok"] and alive
    return status
