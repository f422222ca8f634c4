from django.urls import path

from ecabinet.meetings import live_views

app_name = "meetings_live"

urlpatterns = [
    path("<int:meeting_id>/live/", live_views.live_page, name="live"),
]
