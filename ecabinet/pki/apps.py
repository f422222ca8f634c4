from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "ecabinet.pki"
    label = "pki"
    verbose_name = "PKI"

    def ready(self) -> None:
        # Disabling a user revokes their signing certificates (identity sends the signal).
        from ecabinet.pki import receivers  # noqa: F401
