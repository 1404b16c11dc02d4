"""A new user creates their first shop; a user with several shops switches between them."""

import pytest
from django.urls import reverse

from merchants.models import Membership, Merchant, Role
from tests.support.factories import PASSWORD, MembershipFactory, MerchantFactory, UserFactory


@pytest.mark.django_db
def test_new_verified_user_lands_on_onboarding_after_login(client):
    user = UserFactory()

    response = client.post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("merchants:onboarding")
    assert response.status_code == 200
    assert 'name="legal_name"' in response.text


@pytest.mark.django_db
def test_creating_a_shop_makes_the_user_its_owner(client, shop_form_data):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("merchants:onboarding"), shop_form_data(name="Forno Rossi"))

    merchant = Merchant.objects.get(name="Forno Rossi")
    assert response.status_code == 302
    assert response.url == reverse("links:dashboard", args=[merchant.public_id])
    membership = Membership.objects.get(user=user, merchant=merchant)
    assert membership.role == Role.OWNER
    assert membership.notify_payments is True
    dashboard = client.get(response.url)
    assert "Forno Rossi" in dashboard.text


@pytest.mark.django_db
def test_onboarding_suggests_the_users_email_as_contact(client):
    user = UserFactory(email="maria@forno.example")
    client.force_login(user)

    response = client.get(reverse("merchants:onboarding"))

    assert response.context["form"]["contact_email"].value() == "maria@forno.example"


@pytest.mark.django_db
def test_a_user_with_several_shops_can_open_each_and_sees_them_all_in_the_navigation(client):
    user = UserFactory()
    shops = [MerchantFactory(name="Alfa Caffè"), MerchantFactory(name="Beta Libri")]
    MembershipFactory(user=user, merchant=shops[0], role=Role.OWNER)
    MembershipFactory(user=user, merchant=shops[1], role=Role.STAFF)
    not_mine = MerchantFactory(name="Gamma Fiori")
    client.force_login(user)

    for merchant in shops:
        response = client.get(reverse("links:dashboard", args=[merchant.public_id]))

        assert response.status_code == 200
        assert response.context["shop"] == merchant
        for listed in shops:
            assert reverse("links:dashboard", args=[listed.public_id]) in response.text
        assert not_mine.name not in response.text


@pytest.mark.django_db
def test_shops_home_returns_to_the_last_shop_opened(client):
    user = UserFactory()
    first = MembershipFactory(user=user, merchant=MerchantFactory(name="Alfa")).merchant
    second = MembershipFactory(user=user, merchant=MerchantFactory(name="Beta")).merchant
    client.force_login(user)
    assert client.get(reverse("merchants:home")).url == reverse(
        "links:dashboard", args=[first.public_id]
    )

    client.get(reverse("links:dashboard", args=[second.public_id]))

    assert client.get(reverse("merchants:home")).url == reverse(
        "links:dashboard", args=[second.public_id]
    )
