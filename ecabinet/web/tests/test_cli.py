"""The `ecabinet` console script: a promise to operators (DESIGN §6), `--help` on every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecabinet import cli
from ecabinet.web.tests import procs

# Each command and an option its help must mention, so the test proves the right parser answered.
COMMAND_HELP = {
    "serve": "--no-worker",
    "worker": "--beat",
    "migrate": "--noinput",
    "seed-demo": "--if-empty",
    "demo-code": "username",
    "createadmin": "--username",
    "check": "--json",
    "audit": "verify",
}


def embedded_env(tmp_path: Path) -> dict[str, str]:
    return procs.clean_env(VAR_DIR=str(tmp_path))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """A fresh embedded install after `ecabinet migrate` and `ecabinet seed-demo`; seed-demo's output."""
    env = embedded_env(tmp_path_factory.mktemp("cli-var"))
    procs.ecabinet(env, "migrate", "--noinput", "-v", "0")
    return env, procs.ecabinet(env, "seed-demo").stdout


def test_usage_lists_the_project_commands(tmp_path: Path) -> None:
    for args in (["--help"], ["-h"], []):
        result = procs.ecabinet(embedded_env(tmp_path), *args)
        assert result.stdout.startswith("usage: ecabinet COMMAND [options]"), result.stdout
        for name in ("serve", "migrate", "seed-demo", "demo-code", "createadmin", "check", "audit"):
            assert f"\n  {name} " in result.stdout, f"{name} missing from:\n{result.stdout}"


def test_usage_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["ecabinet", "help"])
    out = capsys.readouterr().out
    assert all(name in out for name in cli.PROJECT_COMMANDS)
    assert "'ecabinet COMMAND --help'" in out


@pytest.mark.parametrize(("command", "mentions"), sorted(COMMAND_HELP.items()))
def test_every_command_has_help(tmp_path: Path, command: str, mentions: str) -> None:
    result = procs.ecabinet(embedded_env(tmp_path), command, "--help", check=False)
    assert result.returncode == 0, f"ecabinet {command} --help exited {result.returncode}:\n{result.stderr}"
    assert result.stdout.startswith("usage: ecabinet "), result.stdout[:300]
    assert mentions in result.stdout, result.stdout


def test_unknown_command_fails_clearly(tmp_path: Path) -> None:
    result = procs.ecabinet(embedded_env(tmp_path), "no-such-command", check=False)
    assert result.returncode != 0
    assert "Unknown command: 'no_such_command'" in result.stderr


def test_check_on_a_fresh_embedded_install(installed: tuple[dict[str, str], str]) -> None:
    env, _ = installed
    result = procs.ecabinet(env, "check")
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if line and not line.startswith("System check"))
    assert lines["database"] == "ok" and lines["broker"] == "ok"
    assert set(lines) >= {"chromium", "tesseract", "pdfsig", "clamdscan", "openssl"}


def test_check_exits_1_and_names_an_unreachable_redis(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    env["ECABINET_REDIS_URL"] = f"redis://127.0.0.1:{procs.free_port()}/0"
    result = procs.ecabinet(env, "check", check=False)
    assert result.returncode == 1
    assert any(line.startswith("redis") and "FAILED" in line for line in result.stdout.splitlines()), result.stdout


def test_seed_demo_then_demo_code(installed: tuple[dict[str, str], str]) -> None:
    env, seeded = installed
    assert "Demo logins (password for all: ecabinet-demo-2026)" in seeded
    assert "thutuong" in seeded and "khach" in seeded

    refused = procs.ecabinet(env, "seed-demo", check=False)
    assert refused.returncode == 1 and "only created in an empty one" in refused.stderr
    kept = procs.ecabinet(env, "seed-demo", "--if-empty")
    assert "already present; keeping it" in kept.stdout

    code = procs.ecabinet(env, "demo-code", "thutuong").stdout.strip()
    assert len(code) == 6 and code.isdigit()
    guest = procs.ecabinet(env, "demo-code", "khach", check=False)
    assert guest.returncode != 0 and "no enrolled user named 'khach'" in guest.stderr


def test_demo_code_is_refused_in_production(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_text("A" * 43 + "=")
    env = procs.clean_env(
        MODE="production",
        VAR_DIR=str(tmp_path),
        SECRET_KEY="p" * 50,
        DATABASE_URL=f"postgres://nobody@127.0.0.1:{procs.free_port()}/none",
        REDIS_URL=f"redis://127.0.0.1:{procs.free_port()}/0",
        ALLOWED_HOSTS="ecabinet.gov.example",
        MASTER_KEY_FILE=str(tmp_path / "master.key"),
    )
    result = procs.ecabinet(env, "demo-code", "thutuong", check=False)
    assert result.returncode != 0
    assert "demo-code is for the embedded demo only" in result.stderr
    # Nor may the demo accounts, which share a published password, be created there.
    seeded = procs.ecabinet(env, "seed-demo", "--if-empty", check=False)
    assert seeded.returncode != 0
    assert "seed-demo is for the embedded demo only" in seeded.stderr


def test_createadmin_reads_the_password_from_the_environment(installed: tuple[dict[str, str], str]) -> None:
    env, _ = installed
    weak = procs.ecabinet({**env, "ECABINET_ADMIN_PASSWORD": "short"}, "createadmin", "--username", "root.admin", check=False)
    assert weak.returncode != 0 and "too short" in weak.stderr
    good = {**env, "ECABINET_ADMIN_PASSWORD": "a-long-enough-passphrase-2026"}
    made = procs.ecabinet(good, "createadmin", "--username", "root.admin")
    assert "Administrator root.admin created" in made.stdout
    again = procs.ecabinet(good, "createadmin", "--username", "root.admin", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
