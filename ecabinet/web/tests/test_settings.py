"""Settings: the typed ``ECABINET_*`` parsers, and start-up refusing a bad production configuration.

A refused configuration must stop the process with one line that names the variable, never a
traceback and never a half-configured server, so these tests start real processes with crafted
environments.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from django.conf import settings

from ecabinet.config import PLACEHOLDERS, ConfigError, Env, check_secret
from ecabinet.web.tests import procs

GOOD_SECRET = secrets.token_urlsafe(48)
SETUP = "import django; django.setup(); from django.conf import settings as s; "


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A complete production configuration; each test removes or spoils one part of it.

    Nothing here connects: settings are only parsed, so the URLs need not answer.
    """
    (tmp_path / "master.key").write_text("A" * 43 + "=")
    fields = {
        "MODE": "production",
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": GOOD_SECRET,
        "DATABASE_URL": "postgres://ecabinet@db.internal:5432/ecabinet",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "ALLOWED_HOSTS": "ecabinet.gov.example",
        "MASTER_KEY_FILE": str(tmp_path / "master.key"),
    }
    fields.update(overrides)
    return procs.clean_env(**{k: v for k, v in fields.items() if v is not None})


def start(env: dict[str, str], code: str = "print('started')") -> procs.subprocess.CompletedProcess[str]:
    return procs.python(env, SETUP + code, check=False, timeout=120)


def assert_refused(result: procs.subprocess.CompletedProcess[str], variable: str) -> str:
    assert result.returncode != 0, f"start-up should have been refused:\n{result.stdout}"
    message = result.stderr.strip()
    assert "Traceback" not in message, message
    assert message.startswith("e-Cabinet configuration error:"), message
    assert variable in message, message
    assert "started" not in result.stdout
    return message


# --- production start-up ---------------------------------------------------------------------


def test_complete_production_configuration_starts(tmp_path: Path) -> None:
    result = start(
        production_env(tmp_path),
        "import json; print(json.dumps({'production': s.PRODUCTION, 'debug': s.DEBUG, 'secure_cookie': s.SESSION_COOKIE_SECURE, "
        "'engine': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'hosts': s.ALLOWED_HOSTS, "
        "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER}))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "production": True,
        "debug": False,
        "secure_cookie": True,
        "engine": "django.db.backends.postgresql",
        "layer": "channels_redis.core.RedisChannelLayer",
        "hosts": ["ecabinet.gov.example"],
        "broker": "redis://cache.internal:6379/0",
        "eager": False,
    }


def test_production_without_secret_key_is_refused(tmp_path: Path) -> None:
    assert_refused(start(production_env(tmp_path, SECRET_KEY=None)), "ECABINET_SECRET_KEY")


@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE-ME", "secret", "insecure-dev-key-" + "x" * 40, "   "])
def test_production_with_placeholder_secret_is_refused(tmp_path: Path, placeholder: str) -> None:
    message = assert_refused(start(production_env(tmp_path, SECRET_KEY=placeholder)), "ECABINET_SECRET_KEY")
    assert "placeholder" in message


def test_production_with_short_secret_is_refused(tmp_path: Path) -> None:
    message = assert_refused(start(production_env(tmp_path, SECRET_KEY="a-real-but-short-key")), "ECABINET_SECRET_KEY")
    assert "at least 32 characters" in message


@pytest.mark.parametrize("database_url", [None, "sqlite:////var/lib/ecabinet/db.sqlite3"])
def test_production_without_postgresql_is_refused(tmp_path: Path, database_url: str | None) -> None:
    message = assert_refused(start(production_env(tmp_path, DATABASE_URL=database_url)), "ECABINET_DATABASE_URL")
    assert "PostgreSQL" in message


def test_production_without_redis_is_refused(tmp_path: Path) -> None:
    assert_refused(start(production_env(tmp_path, REDIS_URL=None)), "ECABINET_REDIS_URL")


def test_production_without_allowed_hosts_is_refused(tmp_path: Path) -> None:
    assert_refused(start(production_env(tmp_path, ALLOWED_HOSTS=None)), "ECABINET_ALLOWED_HOSTS")


def test_console_script_reports_the_same_refusal(tmp_path: Path) -> None:
    result = procs.ecabinet(production_env(tmp_path, SECRET_KEY="changeme"), "check", check=False)
    assert_refused(result, "ECABINET_SECRET_KEY")


# --- malformed values, any mode --------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PORT", "abc", "must be an integer, got 'abc'"),
        ("PORT", "0", "must be at least 1"),
        ("PORT", "70000", "must be at most 65535"),
        ("MODE", "prod", "must be one of embedded, production"),
        ("DEBUG", "maybe", "must be a boolean"),
        ("SESSION_IDLE_MINUTES", "-5", "must be at least 1"),
        ("MAX_BODY_BYTES", "1k", "must be an integer"),
        ("DATABASE_URL", "mysql://db/ecabinet", "must be a URL starting with one of postgres://"),
        ("REDIS_URL", "http://cache:6379", "must be a URL starting with one of redis://"),
        ("BROKER_URL", "sqs://queue", "must be a URL starting with one of"),
        ("TRUSTED_PROXY_COUNT", "-1", "must be at least 0"),
    ],
)
def test_malformed_value_is_refused_with_its_name(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    env = procs.clean_env(VAR_DIR=str(tmp_path), **{variable: value})
    message = assert_refused(start(env), f"ECABINET_{variable}")
    assert expected in message


def test_url_errors_do_not_echo_the_value(tmp_path: Path) -> None:
    """A URL may carry a password; the error names the variable, not its content."""
    env = procs.clean_env(VAR_DIR=str(tmp_path), DATABASE_URL="mysql://root:hunter2@db/ecabinet")
    message = assert_refused(start(env), "ECABINET_DATABASE_URL")
    assert "hunter2" not in message


@pytest.mark.parametrize(("pool", "expected"), [("16", {"pool": 16, "prepare_threshold": 5}), ("0", {"pool": None, "prepare_threshold": None})])
def test_statements_are_prepared_only_on_the_pools_own_connections(tmp_path: Path, pool: str, expected: dict[str, object]) -> None:
    """Django connects with prepare_threshold=None; with our pool the plain-SQL statements of the
    ballot path are prepared (psycopg's 5), with a transaction-pooling proxy (pool 0) they are not."""
    env = production_env(tmp_path, DB_POOL_SIZE=pool)
    probe = (
        "import json; o = s.DATABASES['default'].get('OPTIONS', {}); "
        "print(json.dumps({'pool': (o.get('pool') or {}).get('max_size'), 'prepare_threshold': o.get('prepare_threshold')}))"
    )
    result = start(env, probe)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# --- the embedded default --------------------------------------------------------------------


def test_embedded_default_needs_no_setting_and_keeps_its_secret(tmp_path: Path) -> None:
    env = procs.clean_env(VAR_DIR=str(tmp_path))
    probe = (
        "import json; from channels.layers import InMemoryChannelLayer, get_channel_layer; "
        "print(json.dumps({'mode': s.MODE, 'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
        "'broker': s.CELERY_BROKER_URL, 'key': s.SECRET_KEY, 'port': s.SERVE_PORT, 'in_memory': isinstance(get_channel_layer(), InMemoryChannelLayer)}))"
    )
    first = start(env, probe)
    assert first.returncode == 0, first.stderr
    seen = json.loads(first.stdout.strip().splitlines()[-1])
    assert seen["mode"] == "embedded" and seen["port"] == 8000
    assert seen["engine"] == "django.db.backends.sqlite3" and seen["name"] == str(tmp_path / "ecabinet.sqlite3")
    assert seen["in_memory"] is True, "live events stay in the process: no Redis needed"
    assert seen["broker"] == "filesystem://"
    key_file = tmp_path / "keys" / "secret_key"
    assert key_file.read_text().strip() == seen["key"] and len(seen["key"]) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600, "only the service account may read the key"

    second = start(env, probe)
    assert json.loads(second.stdout.strip().splitlines()[-1])["key"] == seen["key"], "a restart keeps sessions valid"


def test_readme_documents_every_setting() -> None:
    """Every ECABINET_* variable settings.py reads appears in the README's settings table."""
    source = (settings.BASE_DIR / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', source)) | set(re.findall(r'check_secret\(\s*"([A-Z0-9_]+)"', source))
    assert {"MODE", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PORT"} <= names, "the pattern still finds the settings"
    readme = (settings.PROJECT_DIR / "README.md").read_text()
    table_rows = {m for m in re.findall(r"^\|\s*`ECABINET_([A-Z0-9_]+)`", readme, flags=re.MULTILINE)}
    missing = sorted(names - table_rows - {"TESTING", "TEST_REAL_BROKER"})
    assert not missing, f"README.md's settings table lacks: {', '.join('ECABINET_' + n for n in missing)}"


# --- the parsers themselves (no Django) ------------------------------------------------------


def env_of(**values: str) -> Env:
    return Env({f"ECABINET_{k}": v for k, v in values.items()})


def test_str_treats_empty_as_unset_and_strips() -> None:
    env = env_of(A="  value  ", EMPTY="")
    assert env.str("A") == "value"
    assert env.str("EMPTY", "default") == "default"
    assert env.str("MISSING") is None
    assert env.str("MISSING", "default") == "default"


def test_required_str() -> None:
    assert env_of(A="x").required_str("A") == "x"
    with pytest.raises(ConfigError, match="ECABINET_B must be set"):
        env_of(B=" ").required_str("B")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("1", True), ("true", True), ("Yes", True), ("ON", True), ("0", False), ("false", False), ("no", False), ("off", False)],
)
def test_bool_spellings(raw: str, parsed: bool) -> None:
    assert env_of(FLAG=raw).bool("FLAG", not parsed) is parsed


def test_bool_default_and_garbage() -> None:
    assert env_of().bool("FLAG", True) is True
    with pytest.raises(ConfigError, match=r"ECABINET_FLAG must be a boolean \(true/false\), got 'sometimes'"):
        env_of(FLAG="sometimes").bool("FLAG", False)


def test_int_bounds() -> None:
    env = env_of(N="42", NEG="-3", BIG="99999", TEXT="4.2")
    assert env.int("N", 0, minimum=1, maximum=100) == 42
    assert env.int("MISSING", 7) == 7
    assert env.int("NEG", 0) == -3
    with pytest.raises(ConfigError, match="ECABINET_NEG must be at least 0, got -3"):
        env.int("NEG", 0, minimum=0)
    with pytest.raises(ConfigError, match="ECABINET_BIG must be at most 65535, got 99999"):
        env.int("BIG", 0, maximum=65535)
    with pytest.raises(ConfigError, match=r"ECABINET_TEXT must be an integer, got '4\.2'"):
        env.int("TEXT", 0)


def test_list_splits_on_commas_and_drops_blanks() -> None:
    env = env_of(HOSTS=" a.example , b.example,, ")
    assert env.list("HOSTS", []) == ["a.example", "b.example"]
    default = ["x"]
    got = env.list("MISSING", default)
    assert got == ["x"] and got is not default, "callers may change their list without changing the default"


def test_path_expands_and_resolves(tmp_path: Path) -> None:
    env = Env({"ECABINET_DIR": str(tmp_path / "a" / ".." / "b"), "HOME": str(tmp_path)})
    assert env.path("DIR", Path("/default")) == tmp_path / "b"
    assert env.path("MISSING", Path("/default")) == Path("/default")


def test_choice() -> None:
    assert env_of().choice("MODE", "embedded", ("embedded", "production")) == "embedded"
    assert env_of(MODE="production").choice("MODE", "embedded", ("embedded", "production")) == "production"
    with pytest.raises(ConfigError, match="ECABINET_MODE must be one of embedded, production, got 'Production'"):
        env_of(MODE="Production").choice("MODE", "embedded", ("embedded", "production"))


def test_url_schemes() -> None:
    env = env_of(DB="postgres://u@h/db", BARE="localhost:5432", WRONG="mysql://h/db")
    assert env.url("DB", ("postgres", "postgresql")) == "postgres://u@h/db"
    assert env.url("MISSING", ("postgres",)) is None
    for name in ("BARE", "WRONG"):
        with pytest.raises(ConfigError, match=f"ECABINET_{name} must be a URL starting with one of postgres://"):
            env.url(name, ("postgres",))


def test_check_secret() -> None:
    assert check_secret("K", GOOD_SECRET) == GOOD_SECRET
    for bad in [None, *PLACEHOLDERS, "insecure-" + "z" * 60]:
        with pytest.raises(ConfigError, match="ECABINET_K must be set to a real secret"):
            check_secret("K", bad)
    with pytest.raises(ConfigError, match="ECABINET_K must be at least 16 characters long"):
        check_secret("K", "fifteen-chars!!", min_length=16)
