from django.contrib import admin
from django.urls import include, path

from ecabinet.api import api, register_routers
from ecabinet.web import health

register_routers()

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("audit/", include("ecabinet.audit.urls")),
    path("pki/", include("ecabinet.pki.urls")),
    path("meetings/", include("ecabinet.meetings.urls")),
    path("meetings/", include("ecabinet.meetings.live_urls")),
    path("meetings/", include("ecabinet.meetings.followup_urls")),
    path("voting/", include("ecabinet.voting.urls")),
    path("documents/", include("ecabinet.documents.urls")),
    path("notify/", include("ecabinet.notify.urls")),
    path("", include("ecabinet.web.urls")),
]
