"""A payments CSV too large to download at once, written by a background export.

It lives here, not in `links`, because it is one more kind of `ReceiptExport`: the job, its
progress page, its download, its retry and its retention are those of the accountant's ZIPs.
The CSV itself is written by `links.payment_csv`, as the instant download writes it, so the file
is the one that download would have been, byte for byte.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import QueryDict
from django.utils import translation
from django.utils.translation import gettext as _

from links.payment_csv import csv_blocks
from links.payment_filters import PaymentFilterForm, export_query, filtered_payments
from merchants.models import Merchant

from .models import ReceiptExport

PAYMENTS_EXPORT = "payments"  # ReceiptExport.kind


class ExportError(Exception):
    """The export cannot be written as asked; its message is shown to the shop."""


def payments_export_params(form: PaymentFilterForm, merchant: Merchant) -> dict[str, Any]:
    """What a payments export keeps of a valid filter form: the filters as typed, and the
    language, currency and time zone that give them (and the file) their meaning."""
    return {
        "query": export_query(form),
        "language": translation.get_language(),
        "currency": form.currency,
        "time_zone": merchant.time_zone,
    }


def payments_export_form(export: ReceiptExport) -> PaymentFilterForm:
    """The filter form of a payments export, as it was when the export was asked for."""
    params = export.params
    query = QueryDict(mutable=True)
    query.update(params.get("query", {}))
    with translation.override(params["language"]):  # dates are read in the language typed in
        form = PaymentFilterForm(query, currency=params["currency"])
        if not form.is_valid():
            raise ExportError(_("These filters are not valid any more: export again."))
    return form


def payments_export_build(export: ReceiptExport) -> None:
    """Write the CSV to a new file, counting the rows as it goes. Running it again (a retried or
    duplicated task) writes it again, and only the first run to finish keeps its file."""
    form = payments_export_form(export)
    payments = filtered_payments(form, export.merchant)
    total = payments.count()
    if not export.begin(total):
        return  # another run finished meanwhile
    blocks = csv_blocks(
        payments,
        italian=form.cleaned_data["format"] == "it",
        time_zone=export.params["time_zone"],
        language=export.params["language"],
    )
    # On disk, not in memory: a million rows are about 200 MB of text.
    with tempfile.TemporaryFile() as spool:
        done = 0
        for rows, text in blocks:
            spool.write(text.encode())
            if rows:
                done += rows
                export.advance(min(done, total))
        export.keep_file(spool, "payments.csv", done=done)
