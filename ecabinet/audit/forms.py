from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ecabinet.audit import events


def known_events() -> list[str]:
    return sorted(value for name, value in vars(events).items() if name.isupper() and isinstance(value, str))


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
