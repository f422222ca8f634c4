from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "ecabinet.notify"
    label = "notify"
    verbose_name = "Notifications and messaging"
