from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    name = "ecabinet.meetings"
    verbose_name = "Meetings"
