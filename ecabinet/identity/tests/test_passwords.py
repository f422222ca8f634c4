from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.identity import actions
from ecabinet.identity.models import Role
from ecabinet.settings import PASSWORD_HASHERS as CONFIGURED_HASHERS

pytestmark = pytest.mark.django_db


def test_passwords_are_stored_with_argon2id(settings, government):
    # Lift the tests' fast hasher: this is the installation's real configuration.
    settings.PASSWORD_HASHERS = CONFIGURED_HASHERS
    assert CONFIGURED_HASHERS[0].endswith("Argon2PasswordHasher")
    user = actions.create_user(username="argon", password="một mật khẩu dài", role=Role.GUEST, organisation=government)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    response = Client().post("/login/", {"username": "argon", "password": "một mật khẩu dài"})
    assert response.status_code == 302
