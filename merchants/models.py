"""Who: users, shops (merchants), their members and invitations."""

from __future__ import annotations

import secrets
import uuid
import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vpos.crypto import EncryptedTextField, decrypt

from .fiscal import FLAT_RATE_NATURE, FLAT_RATE_REGIME, shop_details_missing
from .validators import codice_fiscale_is_valid, validate_hex_color

CURRENCY_CHOICES = [
    ("EUR", "EUR — Euro"),
    ("USD", "USD — US dollar"),
    ("GBP", "GBP — Pound sterling"),
    ("CHF", "CHF — Swiss franc"),
    ("JPY", "JPY — Japanese yen"),
]
LANGUAGE_CHOICES = [("it", _("Italian")), ("en", _("English"))]


class PaymentMethodKind(models.TextChoices):
    """The kinds of payment method a shop can offer (Stripe's payment method types). Wallets
    (Apple Pay, Google Pay) pay as cards. Offline test mode (localstripe) has cards and SEPA
    Direct Debit only."""

    CARD = "card", _("Cards, Apple Pay and Google Pay")
    SEPA_DEBIT = "sepa_debit", _("SEPA Direct Debit")
    PAYPAL = "paypal", "PayPal"
    KLARNA = "klarna", "Klarna"
    SATISPAY = "satispay", "Satispay"
    BANCONTACT = "bancontact", "Bancontact"
    IDEAL = "ideal", "iDEAL"
    EPS = "eps", "EPS"
    P24 = "p24", "Przelewy24"


TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]
COUNTRY_CHOICES = [
    ("IT", _("Italy")),
    ("SM", _("San Marino")),
    ("VA", _("Vatican City")),
    ("AT", _("Austria")),
    ("BE", _("Belgium")),
    ("CH", _("Switzerland")),
    ("DE", _("Germany")),
    ("ES", _("Spain")),
    ("FR", _("France")),
    ("GB", _("United Kingdom")),
    ("IE", _("Ireland")),
    ("NL", _("Netherlands")),
    ("PT", _("Portugal")),
    ("US", _("United States")),
]


class EmailUserManager(UserManager):
    """Users log in with their email address; there is no username."""

    def _create_user_object(self, username, email, password, **extra_fields):  # type: ignore[override]
        email = self.normalize_email(email or username)
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        user = self._create_user_object(None, email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


def logo_upload_to(instance: Merchant, filename: str) -> str:
    """A random name: the logo is public (the checkout page shows it), the shop's id is not."""
    return f"logos/{uuid.uuid4().hex}.png"


class Merchant(models.Model):
    """A shop: legal identity, branding and defaults for its links and receipts."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("display name"), max_length=100)
    legal_name = models.CharField(_("legal name"), max_length=200)
    vat_number = models.CharField(
        _("Partita IVA"),
        max_length=20,
        blank=True,
        help_text=_("11 digits for Italian shops."),
    )
    tax_code = models.CharField(_("codice fiscale"), max_length=16, blank=True)
    address = models.CharField(_("address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=10)
    city = models.CharField(_("city"), max_length=100)
    province = models.CharField(_("province"), max_length=2, blank=True, help_text=_("e.g. MI"))
    country = models.CharField(_("country"), max_length=2, choices=COUNTRY_CHOICES, default="IT")
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    pec = models.EmailField(_("PEC"), blank=True, help_text=_("Certified email address."))
    sdi_code = models.CharField(_("SDI code"), max_length=7, blank=True)
    default_currency = models.CharField(
        _("default currency"), max_length=3, choices=CURRENCY_CHOICES, default="EUR"
    )
    default_language = models.CharField(
        _("default language"), max_length=5, choices=LANGUAGE_CHOICES, default="it"
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="Europe/Rome"
    )
    logo = models.ImageField(_("logo"), upload_to=logo_upload_to, blank=True)
    brand_color = models.CharField(
        _("brand colour"), max_length=7, default="#0d6efd", validators=[validate_hex_color]
    )
    # PaymentMethodKind values its links offer; empty: every method enabled in the Stripe account.
    payment_methods = models.JSONField(_("payment methods"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def full_address(self) -> str:
        province = f" ({self.province})" if self.province else ""
        return f"{self.address}, {self.postal_code} {self.city}{province}, {self.country}"


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    notify_payments = models.BooleanField(
        _("email me about payments"),
        default=False,
        help_text=_("Owners always get payment notifications; staff may opt in."),
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["merchant__name", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "merchant"], name="membership_unique_user_merchant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def invitation_token() -> str:
    return secrets.token_urlsafe(32)


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    token = models.CharField(max_length=64, unique=True, default=invitation_token, editable=False)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("invited by")
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address per shop (expired ones are revoked when re-sent).
            models.UniqueConstraint(
                "merchant",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_unique_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.merchant}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class PaymentAccount(models.Model):
    """The shop's own Stripe account. Without one, the platform's keys from the environment apply.

    Secret values are stored encrypted (vpos.crypto) and never shown again after saving.
    """

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="payment_account"
    )
    publishable_key = models.CharField(_("publishable key"), max_length=255)
    secret_key_encrypted = EncryptedTextField(editable=False)
    webhook_secret_encrypted = EncryptedTextField(editable=False, blank=True)
    secret_key_hint = models.CharField(max_length=12, editable=False, blank=True)
    livemode = models.BooleanField(_("live mode"), default=False)
    moto_enabled = models.BooleanField(
        _("MOTO enabled"),
        default=False,
        help_text=_(
            "Only if Stripe enabled mail and telephone order payments on your account. "
            "Card payments keyed in by staff are then exempt from 3-D Secure."
        ),
    )
    verified_at = models.DateTimeField(_("checked"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment account")
        verbose_name_plural = _("payment accounts")

    def __str__(self) -> str:
        return f"Stripe account of {self.merchant}"

    @property
    def secret_key(self) -> str:
        return decrypt(self.secret_key_encrypted)

    @property
    def webhook_secret(self) -> str:
        return decrypt(self.webhook_secret_encrypted)


class InvoiceOffer(models.TextChoices):
    OFF = "off", _("Off: receipts only")
    ON_REQUEST = "request", _("On request: customers tick 'I need an invoice'")
    BUSINESS = "business", _("Always asked: the pay page opens the invoice form")


class InvoiceDelivery(models.TextChoices):
    EXPORT = "export", _("Export: I hand the XML files to my intermediary or accountant")
    PEC = "pec", _("PEC: vpos sends each XML file to the SDI's PEC address")


class FiscalProfile(models.Model):
    """What the shop's electronic invoices (FatturaPA) say about the shop and how they are
    numbered and delivered. Owners edit it; without one, the shop issues receipts only."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="fiscal_profile"
    )
    invoicing = models.CharField(
        _("invoices for customers"),
        max_length=10,
        choices=InvoiceOffer.choices,
        default=InvoiceOffer.OFF,
    )
    regime = models.CharField(_("tax regime"), max_length=4, default="RF01")
    vat_rate = models.PositiveSmallIntegerField(
        _("default VAT rate"),
        default=22,
        help_text=_("Used when a link names no VAT rate of its own."),
    )
    vat_nature = models.CharField(
        _("VAT exemption nature"),
        max_length=5,
        blank=True,
        help_text=_("Required when the rate is zero, e.g. N2.2 for the flat-rate scheme."),
    )
    prices_include_vat = models.BooleanField(
        _("link amounts include VAT"),
        default=True,
        help_text=_("Otherwise the link form adds the VAT to the amount you type."),
    )
    transmitter_code = models.CharField(
        _("transmitter's tax code"),
        max_length=28,
        blank=True,
        help_text=_(
            "Leave empty if you send your invoices yourself; otherwise your intermediary's "
            "codice fiscale or Partita IVA."
        ),
    )
    delivery = models.CharField(
        _("sending to the SDI"),
        max_length=10,
        choices=InvoiceDelivery.choices,
        default=InvoiceDelivery.EXPORT,
    )
    sdi_pec = models.EmailField(
        _("SDI PEC address"),
        default="sdi01@pec.fatturapa.it",
        help_text=_("The SDI gives you your own address after your first sending."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("fiscal profile")
        verbose_name_plural = _("fiscal profiles")

    def __str__(self) -> str:
        return f"Fiscal profile of {self.merchant}"

    def clean(self) -> None:
        """The tax treatment a valid invoice can state, and a shop that can be its seller.
        Settles the nature: N2.2 under the flat-rate scheme, none with a VAT rate."""
        errors: dict[str, Any] = {}
        if self.regime == FLAT_RATE_REGIME:
            if self.vat_rate != 0:
                errors["vat_rate"] = _(
                    "The flat-rate scheme (RF19) invoices without VAT: choose 0% and N2.2."
                )
            elif self.vat_nature not in ("", FLAT_RATE_NATURE):
                errors["vat_nature"] = _("The flat-rate scheme (RF19) invoices with nature N2.2.")
            else:
                self.vat_nature = FLAT_RATE_NATURE
        if self.vat_rate:
            self.vat_nature = ""
        elif not self.vat_nature and "vat_rate" not in errors:
            errors["vat_nature"] = _(
                "Choose the nature of the operation: invoices without VAT need it."
            )
        if self.transmitter_code and not codice_fiscale_is_valid(self.transmitter_code):
            errors["transmitter_code"] = _(
                "Enter your intermediary's codice fiscale or Partita IVA, or leave it empty."
            )
        if errors:
            raise ValidationError(errors)
        missing = shop_details_missing(self.merchant) if self.offers_invoices else []
        if missing:
            raise ValidationError(
                _(
                    "To issue electronic invoices, complete the shop's legal details first: "
                    "%(missing)s."
                )
                % {"missing": ", ".join(str(item) for item in missing)},
                code="shop_details",
            )

    @property
    def offers_invoices(self) -> bool:
        return self.invoicing != InvoiceOffer.OFF

    @property
    def transmitter_id(self) -> str:
        """Who sends the file to the SDI (IdTrasmittente): the intermediary, or the shop."""
        return self.transmitter_code or self.merchant.tax_code or self.merchant.vat_number
