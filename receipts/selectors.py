from datetime import date

from django.db.models import Q, QuerySet

from merchants.models import Merchant

from .models import Invoice, Receipt


def receipt_list(
    *, merchant: Merchant, q: str = "", date_from: date | None = None, date_to: date | None = None
) -> QuerySet[Receipt]:
    receipts = Receipt.objects.filter(merchant=merchant)
    if date_from:
        receipts = receipts.filter(issued_at__date__gte=date_from)
    if date_to:
        receipts = receipts.filter(issued_at__date__lte=date_to)
    if q:
        receipts = receipts.filter(
            Q(number__icontains=q) | Q(customer_email__icontains=q) | Q(customer_name__icontains=q)
        )
    return receipts.order_by("-issued_at", "-id")


def invoice_list(
    *,
    merchant: Merchant,
    q: str = "",
    kind: str = "",
    delivery: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(merchant=merchant)
    if kind:
        invoices = invoices.filter(kind=kind)
    if delivery:
        invoices = invoices.filter(delivery_status=delivery)
    if date_from:
        invoices = invoices.filter(issue_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(issue_date__lte=date_to)
    if q:
        invoices = invoices.filter(
            Q(number__icontains=q)
            | Q(customer_name__icontains=q)
            | Q(customer_tax_id__icontains=q)
            | Q(customer_email__icontains=q)
        )
    return invoices.defer("xml", "snapshot").order_by("-issued_at", "-id")
