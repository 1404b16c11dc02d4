from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vpos.inputs import DayField

from .models import DeliveryStatus, InvoiceKind

MAX_EXPORT_DAYS = 400


class ReceiptFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=_("To"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


class ExportForm(forms.Form):
    date_from = DayField(label=_("From"))
    date_to = DayField(label=_("To"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its page has the list's filters too, with fields of the same names: ids of its own.
        kwargs.setdefault("auto_id", "export_%s")
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        first = today.replace(day=1)
        self.fields["date_from"].initial = (first - timedelta(days=1)).replace(day=1)
        self.fields["date_to"].initial = first - timedelta(days=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date is after the end date."))
            if (end - start).days + 1 > MAX_EXPORT_DAYS:  # both days included
                raise forms.ValidationError(_("Export at most 400 days at a time."))
        return data


class InvoiceFilterForm(ReceiptFilterForm):
    """The invoices list: the receipts' search and dates, plus the type and the sending state."""

    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("All")), *InvoiceKind.choices]
    )
    delivery = forms.ChoiceField(
        label=_("Sending"), required=False, choices=[("", _("All")), *DeliveryStatus.choices]
    )
