from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from ecabinet.audit.models import AuditEntry
from ecabinet.audit.tests.factories import AuditEntryFactory
from ecabinet.identity.models import Role, User

PROJECT_DIR = Path(settings.PROJECT_DIR)
# Generous bounds so a stuck child fails the test instead of hanging it; no result depends on them.
CHILD_TIMEOUT = 600


@pytest.fixture
def officer(make_user: Callable[..., User]) -> User:
    return make_user(Role.SECURITY_OFFICER)


@pytest.fixture
def entries() -> Callable[..., list[AuditEntry]]:
    def make(n: int, **kwargs: Any) -> list[AuditEntry]:
        return [AuditEntryFactory(**kwargs) for _ in range(n)]

    return make


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecabinet.cli", *args], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=CHILD_TIMEOUT)


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["ECABINET_DATABASE_URL"] = database_url
    env["DJANGO_SETTINGS_MODULE"] = "ecabinet.settings"
    return env


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once; tests copy it rather than migrate again."""
    path = tmp_path_factory.mktemp("audit-template") / "template.sqlite3"
    result = run_cli(_env(f"sqlite:///{path}"), "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(path)) as db:  # fold the WAL into the file so a copy is complete
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@dataclass
class ExternalDB:
    """A database other processes can open at the same time as the test: the PostgreSQL test
    database itself (the test must be ``transaction=True``), or a migrated SQLite file."""

    vendor: str
    env: dict[str, str]
    sqlite_path: Path | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args)

    def spawn(self, module: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", module, *args], env=self.env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite_path is not None:
            with closing(sqlite3.connect(self.sqlite_path)) as db:
                return db.execute(sql).fetchall()
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def execute(self, *statements: str) -> None:
        if self.sqlite_path is not None:
            with closing(sqlite3.connect(self.sqlite_path)) as db:
                for statement in statements:
                    db.execute(statement)
                db.commit()
            return
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def disable_guard_sql(self) -> list[str]:
        """What a database administrator runs to switch the append-only triggers off."""
        if self.vendor == "postgresql":
            return ["ALTER TABLE audit_auditentry DISABLE TRIGGER USER"]
        return ["DROP TRIGGER audit_auditentry_no_update", "DROP TRIGGER audit_auditentry_no_delete"]


@pytest.fixture
def external_db(request: pytest.FixtureRequest, tmp_path: Path) -> ExternalDB:
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"
        return ExternalDB(vendor="postgresql", env=_env(url))
    path = tmp_path / "external.sqlite3"
    path.write_bytes(request.getfixturevalue("sqlite_template").read_bytes())
    return ExternalDB(vendor="sqlite", env=_env(f"sqlite:///{path}"), sqlite_path=path)
