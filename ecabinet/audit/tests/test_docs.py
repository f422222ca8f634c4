"""docs/audit.md promises third parties they can check the log with standard tools. Run its
commands and snippets exactly as written, with the real ``openssl`` binary."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from ecabinet.audit import actions, signing

pytestmark = pytest.mark.django_db
DOC = Path(settings.PROJECT_DIR) / "docs" / "audit.md"


def snippet(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- test: {re.escape(name)} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert match, f"docs/audit.md has no block marked {name}"
    return match.group(1) + "\n"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_openssl_verifies_a_checkpoint_as_the_docs_say(entries, tmp_path):
    assert shutil.which("openssl"), "the openssl binary is needed to check checkpoints as auditors do"
    entries(5)
    checkpoint, _ = actions.make_checkpoint()
    assert checkpoint is not None
    (tmp_path / "checkpoint.txt").write_text(checkpoint.note, encoding="utf-8")
    (tmp_path / "pub.pem").write_text(signing.public_key_pem())
    script = tmp_path / "check.sh"
    script.write_text("set -euo pipefail\n" + snippet("openssl-checkpoint"))

    good = run(["bash", str(script)], tmp_path)
    assert good.returncode == 0, good.stderr
    assert "Signature Verified Successfully" in good.stdout
    assert (tmp_path / "body").read_text() == checkpoint.note.split("\n\n")[0] + "\n"
    assert len((tmp_path / "sig").read_bytes()) == 64

    # A different size in the text, with the same signature line, must not verify.
    (tmp_path / "checkpoint.txt").write_text(checkpoint.note.replace("\n5\n", "\n4\n", 1), encoding="utf-8")
    bad = run(["bash", str(script)], tmp_path)
    assert bad.returncode != 0
    assert "Signature Verified Successfully" not in bad.stdout


def test_the_proof_snippet_accepts_a_real_proof_and_refuses_a_changed_one(entries, tmp_path):
    entries(11)
    actions.make_checkpoint()
    out = StringIO()
    call_command("audit", "proof", "6", stdout=out)
    (tmp_path / "proof.json").write_text(out.getvalue(), encoding="utf-8")
    (tmp_path / "check_proof.py").write_text(snippet("proof-by-hand"))

    good = run([sys.executable, "check_proof.py", "proof.json"], tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("OK: entry #6 is among the 11 entries of")

    bundle = json.loads(out.getvalue())
    bundle["entry"] = bundle["entry"].replace('"seq":6', '"seq":6,"forged":true')
    bundle["leaf_hash"] = hashlib.sha256(b"\x00" + bundle["entry"].encode()).hexdigest()
    (tmp_path / "forged.json").write_text(json.dumps(bundle), encoding="utf-8")
    bad = run([sys.executable, "check_proof.py", "forged.json"], tmp_path)
    assert bad.returncode != 0 and "does not lead to the signed root" in bad.stderr


def test_the_export_snippet_checks_an_export(entries, tmp_path):
    entries(9)
    actions.make_checkpoint()
    entries(4)
    actions.make_checkpoint()
    export = tmp_path / "log.jsonl"
    call_command("audit", "export", "--output", str(export), stderr=StringIO())
    (tmp_path / "check_export.py").write_text(snippet("export-by-hand"))

    good = run([sys.executable, "check_export.py", "log.jsonl"], tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "OK: 13 entries chained, 2 checkpoint roots recomputed"

    lines = export.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[3])
    edited["entry"]["details"]["n"] = "edited"
    lines[3] = json.dumps(edited, ensure_ascii=False)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = run([sys.executable, "check_export.py", "log.jsonl"], tmp_path)
    assert bad.returncode != 0 and "entry #3 was changed" in bad.stderr
