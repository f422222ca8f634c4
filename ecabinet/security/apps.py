from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "ecabinet.security"
    label = "security"
    verbose_name = "Security"
