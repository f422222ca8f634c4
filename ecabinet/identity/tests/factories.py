from __future__ import annotations

from typing import Any

import factory
from django.conf import settings
from django.utils import timezone

from ecabinet.identity import actions
from ecabinet.identity.core import secretbox, totp
from ecabinet.identity.models import Clearance, Organisation, Role, User

PASSWORD = "correct horse battery staple"


class GovernmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Chính phủ {n}")
    kind = Organisation.Kind.GOVERNMENT


class MinistryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Bộ số {n}")
    kind = Organisation.Kind.MINISTRY
    parent = factory.SubFactory(GovernmentFactory)


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A user with a known password and, unless ``mfa=False``, an enrolled authenticator.

    The TOTP secret in clear is left on ``user.test_totp_secret`` so tests can make codes.
    """

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"Nguyễn Văn {n}")
    role = Role.MEMBER
    clearance = Clearance.INTERNAL
    organisation = factory.SubFactory(GovernmentFactory)
    is_staff = factory.LazyAttribute(lambda o: o.role == Role.ADMIN)
    is_superuser = factory.LazyAttribute(lambda o: o.role == Role.ADMIN)

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:  # noqa: N805
        obj.set_password(extracted or PASSWORD)

    @factory.post_generation
    def mfa(obj: User, create: bool, extracted: bool | None, **kwargs: Any) -> None:  # noqa: N805
        if extracted is False:
            obj.test_totp_secret = None  # type: ignore[attr-defined]
        else:
            secret = totp.new_secret()
            obj.totp_secret = secretbox.seal(settings.SECRET_KEY, actions.TOTP_PURPOSE, secret)
            obj.totp_confirmed_at = timezone.now()
            obj.test_totp_secret = secret  # type: ignore[attr-defined]
        if create:
            obj.save()
