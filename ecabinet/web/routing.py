from django.urls import path

from ecabinet.meetings.consumers import MeetingConsumer
from ecabinet.web import consumers

websocket_urlpatterns = [
    path("ws/live/", consumers.LiveConsumer.as_asgi()),
    path("ws/meetings/<int:meeting_id>/", MeetingConsumer.as_asgi()),
]
