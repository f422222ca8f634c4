from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "ecabinet.documents"
    label = "documents"
    verbose_name = "Documents"
