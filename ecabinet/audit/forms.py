from __future__ import annotations

import importlib
from functools import cache

from django import forms
from django.apps import apps
from django.utils.translation import gettext_lazy as _


@cache
def known_events() -> list[str]:
    """Every event constant of every installed app (each keeps its own in ``<app>/events.py``)."""
    found: set[str] = set()
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.events")
        except ModuleNotFoundError:
            continue
        found.update(value for name, value in vars(module).items() if name.isupper() and isinstance(value, str) and "." in value)
    return sorted(found)


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    event = forms.CharField(label=_("Event"), required=False, max_length=200)
    actor = forms.CharField(label=_("Who (user name)"), required=False, max_length=200)
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=200)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=200)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput)
    q = forms.CharField(label=_("Text in details"), required=False, max_length=200)
