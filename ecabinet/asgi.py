"""HTTP and WebSocket in one ASGI application."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecabinet.settings")
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ecabinet.voting.frontdoor import BallotFrontDoor  # noqa: E402
from ecabinet.web.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Device ballots come in bursts: answered without the request machinery they do not use.
        "http": BallotFrontDoor(django_asgi),  # type: ignore[arg-type]  # Django types its ASGI callables more narrowly than the ASGI spec
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

from django.conf import settings  # noqa: E402

if settings.VOTE_WARM_CERTIFICATES:  # a server process: members' certificates checked before they vote
    from ecabinet.voting import trust

    trust.warm_in_background()
