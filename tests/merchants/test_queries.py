"""The dashboard and team pages run a bounded number of queries, however big the team."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from merchants.models import Role
from tests.support.factories import InvitationFactory, MembershipFactory


def test_dashboard_query_count_is_bounded(owner_client, shop, django_assert_max_num_queries):
    url = reverse("links:dashboard", args=[shop.merchant.public_id])

    # Session, user, membership, the shop's links (none: no figures) and whether it has any, team
    # size, the shop switcher, the session update, savepoints. More in test_dashboard.py.
    with django_assert_max_num_queries(12):
        response = owner_client.get(url)

    assert response.status_code == 200


def test_team_page_query_count_does_not_grow_with_the_team(
    owner_client, shop, django_assert_max_num_queries
):
    url = reverse("merchants:team", args=[shop.merchant.public_id])
    InvitationFactory(merchant=shop.merchant)
    owner_client.get(url)  # the first visit also stores the current shop in the session
    with CaptureQueriesContext(connection) as small_team:
        owner_client.get(url)

    MembershipFactory.create_batch(18, merchant=shop.merchant, role=Role.STAFF)
    InvitationFactory.create_batch(5, merchant=shop.merchant)
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as big_team:
        response = owner_client.get(url)

    assert response.context["members"].count() == 20
    assert len(big_team) == len(small_team)
