"""`manage.py reconcile_payments`: settles open payments of a date range with localstripe."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from links.models import Payment, PaymentStatus
from tests.support.factories import PaymentFactory, PaymentLinkFactory

pytestmark = pytest.mark.django_db


def _started_on(payment: Payment, day: datetime.date) -> None:
    moment = datetime.datetime.combine(
        day, datetime.time(12), tzinfo=timezone.get_current_timezone()
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=moment, updated_at=moment)


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("reconcile_payments", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_settles_open_payments_in_range_only(shop, paid_intent, django_capture_on_commit_callbacks):
    link = PaymentLinkFactory(merchant=shop.merchant, kind="reusable")
    inside, _pi = paid_intent(link, status=PaymentStatus.PROCESSING)
    before, _pi = paid_intent(link, status=PaymentStatus.PROCESSING)
    never_sent = PaymentFactory(link=link, status=PaymentStatus.PENDING)
    _started_on(inside, datetime.date(2025, 3, 10))
    _started_on(never_sent, datetime.date(2025, 3, 31))
    _started_on(before, datetime.date(2025, 2, 28))

    with django_capture_on_commit_callbacks(execute=True):
        out, err = _run("--since", "2025-03-01", "--until", "2025-03-31")

    inside.refresh_from_db()
    before.refresh_from_db()
    assert inside.status == PaymentStatus.SUCCEEDED
    assert before.status == PaymentStatus.PROCESSING  # out of range: untouched
    assert "Reconciled 2 open payment(s) started 2025-03-01 to 2025-03-31" in out
    assert "1 succeeded" in out
    assert "1 never reached the provider" in out
    assert err == ""


def test_a_second_run_finds_nothing_open(shop, paid_intent, django_capture_on_commit_callbacks):
    link = PaymentLinkFactory(merchant=shop.merchant)
    payment, _pi = paid_intent(link, status=PaymentStatus.PROCESSING)
    today = timezone.localdate().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        _run("--since", today)
    out, _err = _run("--since", today)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert out.strip() == f"Reconciled 0 open payment(s) started {today} to {today}."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "not a date"),
        (["--since", "2025-03-02", "--until", "2025-03-01"], "--until is before --since"),
    ],
)
def test_bad_dates_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
