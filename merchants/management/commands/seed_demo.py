"""Create (or refresh) a demo shop with an owner and a staff login. Safe to run again."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from merchants.models import FiscalProfile, InvoiceOffer, Membership, Merchant, Role, User

DEMO_PASSWORD = "vpos-demo-2026"  # noqa: S105 - printed on purpose: it is the demo login
DEMO_USERS = [("owner@demo.vpos.test", Role.OWNER), ("staff@demo.vpos.test", Role.STAFF)]
# The platform operator of the demo: the Django admin and the development outbox.
DEMO_OPERATOR = "admin@demo.vpos.test"
DEMO_SHOP = {
    "name": "Bottega Demo",
    "legal_name": "Bottega Demo S.r.l.",
    "vat_number": "12345670017",
    "tax_code": "12345670017",
    "address": "Via Roma 1",
    "postal_code": "20121",
    "city": "Milano",
    "province": "MI",
    "country": "IT",
    "contact_email": "info@demo.vpos.test",
    "contact_phone": "+39 02 1234567",
    "pec": "bottegademo@pec.demo.vpos.test",
    "sdi_code": "M5UXCR1",
    "brand_color": "#0b7a75",
}


class Command(BaseCommand):
    help = "Seed a demo shop with an owner and a staff member (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            # Its users' password is printed and published: never on a real installation.
            raise CommandError(
                "seed_demo creates users whose password is public: it runs only with DEBUG on "
                "(development settings, as `make run` uses)."
            )
        merchant = Merchant.objects.filter(name=DEMO_SHOP["name"]).first()
        if merchant is None:
            merchant = Merchant.objects.create(**DEMO_SHOP)
        # Customers of the demo shop can ask for an electronic invoice on the pay page.
        FiscalProfile.objects.get_or_create(
            merchant=merchant, defaults={"invoicing": InvoiceOffer.ON_REQUEST}
        )
        for email, role in DEMO_USERS:
            user = User.objects.filter(email=email).first() or User.objects.create_user(email)
            user.set_password(DEMO_PASSWORD)
            user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            Membership.objects.update_or_create(
                user=user,
                merchant=merchant,
                defaults={"role": role, "notify_payments": role == Role.OWNER},
            )
        operator = User.objects.filter(email=DEMO_OPERATOR).first() or User.objects.create_user(
            DEMO_OPERATOR
        )
        operator.is_staff = operator.is_superuser = True
        operator.set_password(DEMO_PASSWORD)
        operator.save()
        EmailAddress.objects.update_or_create(
            user=operator, email=DEMO_OPERATOR, defaults={"verified": True, "primary": True}
        )
        self.stdout.write(self.style.SUCCESS(f"Demo shop: {merchant.name}"))
        for email, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<6} login: {email} / {DEMO_PASSWORD}")
        self.stdout.write(
            f"  Operator login (admin, development outbox): {DEMO_OPERATOR} / {DEMO_PASSWORD}"
        )
        self.stdout.write(f"  Open {settings.SITE_URL}/")
