"""Fixtures for documents tests: the meetings cabinet, a real clamd, and an API helper."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ecabinet.identity.models import User
from ecabinet.identity.tests.test_api_auth import get_token
from ecabinet.meetings.tests.conftest import cabinet  # noqa: F401 - a fixture
from ecabinet.security.tests.clamd_server import clamd_url  # noqa: F401 - a fixture


class Uploaded:
    """The 201 answer of an upload, with the version as it is once the pipeline has run."""

    status_code = 201

    def __init__(self, fresh: Any) -> None:
        assert fresh.status_code == 200, fresh.content
        self._body = fresh.json()
        self.content = fresh.content

    def json(self) -> Any:
        return self._body


class Api:
    def __init__(self, capture: Any) -> None:
        self.capture = capture
        self.tokens: dict[int, str] = {}

    def headers(self, user: User | None) -> dict[str, str]:
        if user is None:
            return {}
        if user.pk not in self.tokens:
            self.tokens[user.pk] = get_token(user)["token"]
        return {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[user.pk]}"}

    def upload(self, user: User | None, data: bytes, name: str, path: str = "/api/v1/documents", **fields: Any) -> Any:
        body = {"file": SimpleUploadedFile(name, data), **{k: str(v) for k, v in fields.items()}}
        # on_commit callbacks (the pipeline) run as they would after a real commit, which in a
        # test is when this block ends: after the response. Read the version again then, as a
        # client polling its state would.
        with self.capture(execute=True):
            response = Client().post(path, body, **self.headers(user))
        if response.status_code == 201:
            return Uploaded(self.get(user, f"/api/v1/documents/versions/{response.json()['id']}"))
        return response

    def get(self, user: User | None, path: str, **headers: str) -> Any:
        return Client().get(path, **self.headers(user), **headers)

    def post_json(self, user: User | None, path: str, body: Any, method: str = "post") -> Any:
        import json

        with self.capture(execute=True):
            return getattr(Client(), method)(path, data=json.dumps(body), content_type="application/json", **self.headers(user))


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    # The cabinet has ten people; Argon2 for each would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(django_capture_on_commit_callbacks: Any) -> Api:
    return Api(django_capture_on_commit_callbacks)
