"""factory_boy factories for the domain models."""

from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from merchants.models import Invitation, Membership, Merchant, Role, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} S.r.l.")
    vat_number = "12345670017"
    tax_code = "12345670017"
    address = "Via Roma 1"
    postal_code = "20121"
    city = "Milano"
    province = "MI"
    country = "IT"
    contact_email = factory.Sequence(lambda n: f"shop{n}@example.com")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.STAFF


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    merchant = factory.SubFactory(MerchantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.STAFF
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class PaymentLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "links.PaymentLink"

    merchant = factory.SubFactory(MerchantFactory)
    amount = 1999
    currency = "EUR"
    description = factory.Sequence(lambda n: f"Order {n}")
    language = "it"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "links.Payment"

    link = factory.SubFactory(PaymentLinkFactory)
    merchant = factory.LazyAttribute(lambda o: o.link.merchant)
    attempt_key = factory.Sequence(lambda n: f"attempt-key-{n:08d}")
    amount = factory.LazyAttribute(lambda o: o.link.amount)
    currency = factory.LazyAttribute(lambda o: o.link.currency)
