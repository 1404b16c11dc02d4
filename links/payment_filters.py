"""The payments list's filters, as typed in its query string: read by the list, by the CSV
export and, from the copy an export keeps, by the background job that writes a large CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchants.models import Merchant
from vpos.inputs import AsciiIntegerField
from vpos.money import AmountError, parse_amount

from . import payment_selectors as selectors
from .models import METHOD_LABELS, LinkKind, Payment, PaymentStatus

STATUS_CHOICES = [
    ("", gettext_lazy("All statuses")),
    *PaymentStatus.choices,
    ("partially_refunded", gettext_lazy("Partially refunded")),
    ("refunded", gettext_lazy("Refunded")),
]
KIND_CHOICES = [("", gettext_lazy("All kinds")), *LinkKind.choices]
# How the card reached Stripe: typed by the customer on the pay page, or keyed by the shop for a
# phone or mail order (MOTO: no 3-D Secure).
CHANNEL_LABELS = {
    "online": gettext_lazy("Online"),
    "moto": gettext_lazy("Phone or mail order (MOTO)"),
}
CHANNEL_CHOICES = [("", gettext_lazy("All channels")), *CHANNEL_LABELS.items()]
METHOD_CHOICES = [("", gettext_lazy("All methods")), *METHOD_LABELS.items()]
SORT_CHOICES = [
    ("-date", gettext_lazy("Newest first")),
    ("date", gettext_lazy("Oldest first")),
    ("-amount", gettext_lazy("Highest amount first")),
    ("amount", gettext_lazy("Lowest amount first")),
]
CSV_FORMAT_CHOICES = [
    ("", gettext_lazy("CSV")),
    ("it", gettext_lazy("CSV for Italian spreadsheets")),
]
# Dates outside this range are typing mistakes, and would overflow the time zone arithmetic.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
AMOUNT_CEILING = 2**62  # any larger bound filters exactly like this one, without overflowing


class PaymentFilterForm(forms.Form):
    """What the payments list and the CSV read from the query string; every field is optional."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=STATUS_CHOICES, required=False)
    date_from = forms.DateField(label=gettext_lazy("From"), required=False)
    date_to = forms.DateField(label=gettext_lazy("To"), required=False)
    amount_min = forms.CharField(
        label=gettext_lazy("Minimum amount"), required=False, max_length=20
    )
    amount_max = forms.CharField(
        label=gettext_lazy("Maximum amount"), required=False, max_length=20
    )
    link = AsciiIntegerField(
        label=gettext_lazy("Link id"), required=False, min_value=1, max_value=AMOUNT_CEILING
    )
    kind = forms.ChoiceField(label=gettext_lazy("Link kind"), choices=KIND_CHOICES, required=False)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=CHANNEL_CHOICES, required=False
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Payment method"), choices=METHOD_CHOICES, required=False
    )
    sort = forms.ChoiceField(label=gettext_lazy("Sort"), choices=SORT_CHOICES, required=False)
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=CSV_FORMAT_CHOICES, required=False
    )
    after = forms.CharField(required=False, max_length=60)
    before = forms.CharField(required=False, max_length=60)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def _clean_day(self, name: str) -> date | None:
        day = self.cleaned_data.get(name)
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(_("Enter a date between 2000 and 2999."))
        return day

    def clean_date_from(self) -> date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_day("date_to")

    def _clean_amount(self, name: str) -> int | None:
        text = self.cleaned_data.get(name, "").strip()
        if not text:
            return None
        try:
            return min(parse_amount(text, self.currency), AMOUNT_CEILING)
        except AmountError as error:
            raise ValidationError(_("Enter an amount such as 19,99.")) from error

    def clean_amount_min(self) -> int | None:
        return self._clean_amount("amount_min")

    def clean_amount_max(self) -> int | None:
        return self._clean_amount("amount_max")

    def _clean_cursor(self, name: str) -> selectors.Cursor | None:
        text = self.cleaned_data.get(name, "")
        if not text:
            return None
        try:
            return selectors.Cursor.parse(text)
        except selectors.CursorError as error:
            raise ValidationError(
                _("This page link is not valid any more: start again from the first page.")
            ) from error

    def clean_after(self) -> selectors.Cursor | None:
        return self._clean_cursor("after")

    def clean_before(self) -> selectors.Cursor | None:
        return self._clean_cursor("before")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", _("The maximum is below the minimum."))
        if data.get("after") and data.get("before"):
            self.add_error(
                None, _("This page link is not valid any more: start again from the first page.")
            )
        return data

    @property
    def chosen_sort(self) -> str:
        return self.cleaned_data.get("sort") or selectors.DEFAULT_SORT

    def filters(self) -> selectors.PaymentFilters:
        data = self.cleaned_data
        return selectors.PaymentFilters(
            q=data["q"].strip(),
            status=data["status"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            amount_min=data["amount_min"],
            amount_max=data["amount_max"],
            link_id=data["link"],
            kind=data["kind"],
            channel=data["channel"],
            method=data["method"],
        )


# What an export keeps of the query string: the page cursors only say where the list was.
EXPORT_FIELDS = (
    "q",
    "status",
    "date_from",
    "date_to",
    "amount_min",
    "amount_max",
    "link",
    "kind",
    "channel",
    "method",
    "sort",
    "format",
)


def export_query(form: PaymentFilterForm) -> dict[str, str]:
    """The filters of a valid form as typed, to build the same form again later (a background
    export): the typed text, not the cleaned values, so the job reads them exactly as the page."""
    return {name: form.data[name] for name in EXPORT_FIELDS if form.data.get(name)}


def filtered_payments(form: PaymentFilterForm, merchant: Merchant) -> QuerySet[Payment]:
    """The payments of a valid filter form, in its order (ties broken by id)."""
    return selectors.payment_list(merchant=merchant, filters=form.filters(), sort=form.chosen_sort)
