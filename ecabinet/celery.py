"""The Celery application. Tasks take ids, re-read their objects, and are idempotent."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecabinet.settings")

app = Celery("ecabinet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
