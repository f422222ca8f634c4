from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "ecabinet.identity"
    verbose_name = "Identity"
