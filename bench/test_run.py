"""The `make bench` runner: discovery, one JSON object per benchmark, failures recorded not fatal."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

# bench/ is a folder of scripts, not a package: load the runner from its file.
_spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().with_name("run.py"))
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)


def write(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(body)


def test_no_benchmarks_gives_an_empty_list_and_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    assert run.main([], folder=tmp_path, results_path=out) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["results"] == [] and json.loads(out.read_text()) == printed


def test_results_are_collected_and_failures_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "fast.py", 'import json\nprint("warming up")\nprint(json.dumps({"name": "fast", "ratio_p99": 1.5}))\n')
    write(tmp_path, "crash.py", "import sys\nsys.exit(3)\n")
    write(tmp_path, "chatty.py", "print('no json here')\n")
    write(tmp_path, "_helper.py", "raise SystemExit('helpers are not benchmarks')\n")
    write(tmp_path, "run.py", "raise SystemExit('the runner does not run itself')\n")
    out = tmp_path / "results.json"

    assert run.main([], folder=tmp_path, results_path=out) == 1
    report = json.loads(out.read_text())
    by_name = {r["benchmark"]: r for r in report["results"]}
    assert sorted(by_name) == ["chatty", "crash", "fast"]
    assert by_name["fast"]["ok"] is True and by_name["fast"]["ratio_p99"] == 1.5
    assert by_name["crash"] == {**by_name["crash"], "ok": False, "error": "exit status 3"}
    assert by_name["chatty"]["ok"] is False and "not a JSON object" in by_name["chatty"]["error"]
    assert json.loads(capsys.readouterr().out) == report


def test_benchmarks_can_be_chosen_by_name(tmp_path: Path) -> None:
    write(tmp_path, "a.py", 'print(\'{"name": "a"}\')\n')
    write(tmp_path, "b.py", "raise SystemExit(1)\n")
    out = tmp_path / "results.json"
    assert run.main(["a"], folder=tmp_path, results_path=out) == 0
    assert [r["benchmark"] for r in json.loads(out.read_text())["results"]] == ["a"]
