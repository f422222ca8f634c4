"""`make bench`: run every benchmark in bench/ and collect what they print into bench/results.json.

A benchmark is any ``bench/*.py`` other than this file. It prints exactly one JSON object on
stdout (see bench/README.md for the fields) and exits 0. This runner starts each one in its own
process with the project's interpreter, so one benchmark's imports, caches or crashes cannot
change another's figures, and it records a failure instead of stopping at the first.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
# A ceiling so a benchmark that hangs cannot hold `make bench` (or CI) forever; not a measurement.
TIMEOUT_SECONDS = float(os.environ.get("ECABINET_BENCH_TIMEOUT", "1800"))


def discover(folder: Path = BENCH_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))


def run_one(path: Path) -> dict[str, Any]:
    started = time.monotonic()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "ecabinet.settings"))
    try:
        proc = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=BENCH_DIR.parent, env=env, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return {"benchmark": path.stem, "ok": False, "error": f"no result within {TIMEOUT_SECONDS:.0f} s"}
    wall = round(time.monotonic() - started, 3)
    if proc.returncode != 0:
        return {"benchmark": path.stem, "ok": False, "error": f"exit status {proc.returncode}", "stderr": proc.stderr[-4000:], "wall_seconds": wall}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        error = "the last line of stdout is not a JSON object"
        return {"benchmark": path.stem, "ok": False, "error": error, "stdout": proc.stdout[-4000:], "wall_seconds": wall}
    return {"benchmark": path.stem, "ok": True, "wall_seconds": wall, **result}


def main(argv: list[str] | None = None, *, folder: Path = BENCH_DIR, results_path: Path = RESULTS) -> int:
    """Run the benchmarks named in ``argv`` (all when none), write the report, exit 1 if any failed."""
    args = sys.argv[1:] if argv is None else argv
    chosen = [p for p in discover(folder) if not args or p.stem in args]
    results = []
    for path in chosen:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        results.append(run_one(path))
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    results_path.write_text(text + "\n")
    print(text)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
