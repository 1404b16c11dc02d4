"""`manage.py seed_demo`: a demo shop whose printed logins work, however often it runs."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from merchants.models import Membership, Merchant, Role, User


@pytest.fixture(autouse=True)
def _development(settings):
    settings.DEBUG = True  # as under `make run`


def seed_demo() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    seed_demo()
    seed_demo()

    merchant = Merchant.objects.get()
    assert User.objects.count() == 3  # owner, staff and the operator
    assert sorted(Membership.objects.filter(merchant=merchant).values_list("role", flat=True)) == [
        Role.OWNER,
        Role.STAFF,
    ]


@pytest.mark.django_db
def test_demo_owner_logs_in_with_the_printed_password(client):
    seed_demo()
    output = seed_demo()
    email, password = re.search(r"login: (\S+@\S+) / (\S+)", output).groups()

    response = client.post(
        reverse("account_login"), {"login": email, "password": password}, follow=True
    )

    merchant = Merchant.objects.get()
    assert response.redirect_chain[-1][0] == reverse("links:dashboard", args=[merchant.public_id])
    assert response.context["membership"].role == Role.OWNER


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        seed_demo()

    assert not User.objects.exists()
    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_the_printed_operator_login_opens_the_development_outbox(client):
    output = seed_demo()
    email, password = re.search(r"Operator login [^:]*: (\S+@\S+) / (\S+)", output).groups()

    client.post(reverse("account_login"), {"login": email, "password": password})
    page = client.get(reverse("dev_outbox"))

    assert page.status_code == 200
    assert reverse("dev_outbox") in client.get(reverse("merchants:home"), follow=True).text
    assert not Membership.objects.filter(user__email=email).exists()
