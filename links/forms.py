from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.fiscal import InvoiceDetailsForm
from merchants.models import (
    CURRENCY_CHOICES,
    LANGUAGE_CHOICES,
    FiscalProfile,
    Merchant,
    PaymentMethodKind,
)
from vpos.inputs import AsciiIntegerField
from vpos.money import AmountError, parse_amount, with_vat

from .models import VAT_RATE_CHOICES, LinkKind, LinkStatus
from .services import validate_amount, validate_link_payment_methods

EXPIRY_CHOICES = [
    ("none", _("Never")),
    ("24h", _("In 24 hours")),
    ("7d", _("In 7 days")),
    ("30d", _("In 30 days")),
    ("date", _("On a date")),
]
EXPIRY_DELTAS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class CustomerInvoiceForm(forms.Form):
    """A link form's "Invoice the customer": when the shop issues invoices, the customer's
    invoice details (merchants.fiscal.InvoiceDetailsForm, prefix "invoice", in `invoice_form`);
    cleaned into `invoice_details` (empty unless ticked and valid)."""

    invoice_customer = forms.BooleanField(
        label=_("Invoice the customer"),
        required=False,
        help_text=_(
            "Each payment of the link gets an electronic invoice made out to the customer below; "
            "the pay page shows these details instead of asking."
        ),
    )

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.profile = FiscalProfile.objects.filter(merchant=merchant).first()
        self.invoice_form: InvoiceDetailsForm | None = None
        if self.profile is not None and self.profile.offers_invoices:
            self.invoice_form = InvoiceDetailsForm(self.data or None, prefix="invoice")
        else:
            del self.fields["invoice_customer"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["invoice_details"] = {}
        if data.get("invoice_customer") and self.invoice_form is not None:
            if self.invoice_form.is_valid():
                data["invoice_details"] = self.invoice_form.details()
            else:
                self.add_error("invoice_customer", _("Check the customer's invoice details below."))
        return data


class LinkForm(CustomerInvoiceForm):
    amount = forms.CharField(
        label=_("Amount"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "19,99"}
        ),
        help_text=_("Type it as you like: 19,99 or 19.99."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    description = forms.CharField(
        label=_("Description"), max_length=500, help_text=_("What the customer pays for.")
    )
    reference = forms.CharField(
        label=_("Reference"),
        max_length=100,
        required=False,
        help_text=_("Your order number, if any."),
    )
    customer_name = forms.CharField(label=_("Customer name"), max_length=200, required=False)
    customer_email = forms.EmailField(label=_("Customer email"), required=False)
    language = forms.ChoiceField(label=_("Customer language"), choices=LANGUAGE_CHOICES)
    authorize_only = forms.BooleanField(
        label=_("Authorize only, capture later"),
        required=False,
        help_text=_(
            "The card is authorized and nothing is charged until you capture the payment (all "
            "or less) within 7 days."
        ),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=LinkKind.choices,
        initial=LinkKind.SINGLE,
        widget=forms.RadioSelect,
        help_text=_(
            "A single-use link is paid once. A reusable link can be paid by many customers."
        ),
    )
    max_payments = AsciiIntegerField(
        label=_("Maximum payments"),
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text=_("Reusable links only. Leave empty for no limit."),
    )
    vat_rate = forms.TypedChoiceField(
        label=_("VAT rate"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Not shown on the receipt")), *VAT_RATE_CHOICES],
        help_text=_("The amount includes VAT at this rate."),
    )
    vat_exemption = forms.CharField(label=_("VAT exemption reason"), max_length=200, required=False)
    expiry = forms.ChoiceField(label=_("Expires"), choices=EXPIRY_CHOICES, initial="7d")
    expires_on = forms.DateTimeField(
        label=_("Expiry date"),
        required=False,
        widget=forms.DateTimeInput(
            attrs={"placeholder": _("dd/mm/yyyy hh:mm"), "autocomplete": "off"},
            format="%d/%m/%Y %H:%M",
        ),
    )
    payment_methods = forms.MultipleChoiceField(
        label=_("Payment methods"),
        required=False,
        choices=PaymentMethodKind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Leave all unticked to offer the shop's payment methods; tick some to offer only "
            "those on this link (e.g. cards only for a phone order)."
        ),
    )

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        super().__init__(*args, merchant=merchant, **kwargs)
        self.fields["currency"].initial = merchant.default_currency
        self.fields["language"].initial = merchant.default_language
        if self.prices_exclude_vat:
            self.fields["amount"].label = _("Amount (VAT excluded)")
            self.fields["amount"].help_text = _(
                "Without VAT: the customer pays it with the VAT added (the link's rate, or the "
                "shop's default)."
            )

    @property
    def prices_exclude_vat(self) -> bool:
        return self.profile is not None and not self.profile.prices_include_vat

    def _with_vat(self, net: int, data: dict[str, Any]) -> int:
        """What the customer pays for a net amount, when the shop types amounts without VAT."""
        rate = data.get("vat_rate")
        if rate is None and self.profile is not None:
            rate = self.profile.vat_rate
        return with_vat(net, rate) if self.prices_exclude_vat and rate else net

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        currency = data.get("currency")
        if currency and "amount" in data:
            try:
                amount = self._with_vat(parse_amount(data["amount"], currency), data)
            except AmountError:
                self.add_error("amount", _("Enter an amount such as 19,99."))
            else:
                try:
                    validate_amount(amount, currency)
                except ValidationError as error:
                    self.add_error("amount", error)
                else:
                    data["amount_minor"] = amount
        expiry = data.get("expiry")
        data["expires_at"] = None
        if expiry in EXPIRY_DELTAS:
            data["expires_at"] = timezone.now() + EXPIRY_DELTAS[expiry]
        elif expiry == "date":
            when: datetime | None = data.get("expires_on")
            if when is None:
                self.add_error("expires_on", _("Choose the expiry date."))
            elif when <= timezone.now():
                self.add_error("expires_on", _("The expiry must be in the future."))
            else:
                data["expires_at"] = when
        if data.get("kind") == LinkKind.SINGLE:
            data["max_payments"] = None
        if data.get("vat_rate") == 0 and not data.get("vat_exemption"):
            self.add_error(
                "vat_exemption", _("With 0% VAT the receipt must state the exemption reason.")
            )
        if data.get("vat_rate") not in (0, None) and data.get("vat_exemption"):
            data["vat_exemption"] = ""
        if data.get("payment_methods"):
            try:
                data["payment_methods"] = validate_link_payment_methods(
                    self.merchant, data["payment_methods"]
                )
            except ValidationError as error:
                self.add_error("payment_methods", error)
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "amount": data["amount_minor"],
            "currency": data["currency"],
            "description": data["description"],
            "reference": data["reference"],
            "customer_name": data["customer_name"],
            "customer_email": data["customer_email"],
            "language": data["language"],
            "kind": data["kind"],
            "max_payments": data["max_payments"],
            "expires_at": data["expires_at"],
            "vat_rate": data.get("vat_rate"),
            "vat_exemption": data.get("vat_exemption", ""),
            "authorize_only": data.get("authorize_only", False),
            "payment_methods": data.get("payment_methods") or [],
            "invoice_details": data.get("invoice_details") or {},
        }


STATUS_FILTER_CHOICES = [("", _("All statuses")), *LinkStatus.choices]


class LinkFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_FILTER_CHOICES, required=False)


class CheckoutAttemptForm(forms.Form):
    """What the checkout page's script posts: a token for the card, never the card or an amount."""

    payment_method = forms.RegexField(regex=r"^(pm|card|src)_[A-Za-z0-9_]{1,200}$", max_length=255)
    attempt_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}$")
    email = forms.EmailField(required=False)
    name = forms.CharField(required=False, max_length=200)
    recipient = forms.CharField(required=False, max_length=1000)  # links.recipients.recipient_token
    # The payment method's type, as Stripe.js reported it (the Payment Element); cards otherwise.
    method = forms.RegexField(regex=r"^[a-z][a-z0-9_]{0,29}$", required=False)

    def clean_method(self) -> str:
        return self.cleaned_data.get("method") or "card"


class LinkEmailForm(forms.Form):
    to = forms.EmailField(label=_("Customer email"))
    message = forms.CharField(
        label=_("Personal message"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. Shown above the pay button."),
    )
    language = forms.ChoiceField(label=_("Email language"), choices=LANGUAGE_CHOICES)


class _ConfirmedAmountForm(forms.Form):
    """A money action on a payment: posted, shown back for confirmation, then done once."""

    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # Made when the confirmation page is shown: the confirmation sent twice (a double click, a
    # reload, a retry after an error page) acts once.
    request_key = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{16,64}$", required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def _amount(self, text: str) -> int:
        try:
            return parse_amount(text, self.currency)
        except AmountError as error:
            raise ValidationError(_("Enter an amount such as 19,99.")) from error


class RefundForm(_ConfirmedAmountForm):
    amount = forms.CharField(
        label=_("Amount to refund"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Shown to the customer.")
    )

    def clean_amount(self) -> int:
        return self._amount(self.cleaned_data["amount"])


class HoldForm(_ConfirmedAmountForm):
    """Capture (all or part of) an authorization, or release it: posted, confirmed, done."""

    amount = forms.CharField(
        label=_("Amount to capture"),
        max_length=20,
        required=False,
        help_text=_("The rest of the authorized amount is released."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def clean_amount(self) -> int | None:
        text = self.cleaned_data["amount"].strip()
        return self._amount(text) if text else None


class QuickLinkForm(CustomerInvoiceForm):
    """Phone orders and the virtual terminal: the few fields a clerk types with a customer waiting."""

    amount = forms.CharField(
        label=_("Amount"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "autofocus": True}
        ),
    )
    description = forms.CharField(label=_("Description"), max_length=500)
    customer_email = forms.EmailField(label=_("Customer email"), required=False)
    customer_phone = forms.RegexField(
        label=_("Customer mobile"),
        required=False,
        max_length=30,
        regex=r"^\+?[0-9 ()\-]{6,25}$",
        error_messages={"invalid": _("Enter a phone number such as +39 333 123 4567.")},
        help_text=_("For SMS and WhatsApp, with the country code."),
    )
    authorize_only = forms.BooleanField(
        label=_("Authorize only, capture later"),
        required=False,
        help_text=_(
            "The card is authorized and nothing is charged until you capture the payment (all "
            "or less) within 7 days."
        ),
    )

    def __init__(
        self, *args: Any, merchant: Merchant, with_phone: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, merchant=merchant, **kwargs)
        if not with_phone:
            del self.fields["customer_phone"]

    def clean_amount(self) -> int:
        currency = self.merchant.default_currency
        try:
            amount = parse_amount(self.cleaned_data["amount"], currency)
        except AmountError as error:
            raise ValidationError(_("Enter an amount such as 19,99.")) from error
        validate_amount(amount, currency)
        return amount


class PaymentMethodsForm(forms.Form):
    """The kinds of payment method the shop's links offer (owner only)."""

    payment_methods = forms.MultipleChoiceField(
        label=_("Payment methods your links offer"),
        required=False,
        choices=PaymentMethodKind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Leave all unticked to offer every method enabled in your Stripe account "
            "(Settings → Payment methods in the Stripe dashboard). Tick some to offer only those; "
            "each must also be enabled in Stripe."
        ),
    )

    def clean_payment_methods(self) -> list[str]:
        chosen = self.cleaned_data.get("payment_methods") or []
        return [kind.value for kind in PaymentMethodKind if kind in chosen]


class PaymentAccountForm(forms.Form):
    publishable_key = forms.RegexField(
        label=_("Publishable key"),
        regex=r"^pk_(test|live)_[A-Za-z0-9_]+$",
        max_length=255,
        error_messages={"invalid": _("A publishable key starts with pk_test_ or pk_live_.")},
    )
    secret_key = forms.RegexField(
        label=_("Secret key"),
        regex=r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$",
        max_length=255,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        error_messages={"invalid": _("A secret key starts with sk_test_, sk_live_ or rk_.")},
    )
    webhook_secret = forms.RegexField(
        label=_("Webhook signing secret"),
        regex=r"^whsec_[A-Za-z0-9_]+$",
        max_length=255,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        error_messages={"invalid": _("A webhook signing secret starts with whsec_.")},
    )
    moto_enabled = forms.BooleanField(
        label=_("MOTO enabled on my Stripe account"),
        required=False,
        help_text=_(
            "Turn on only if Stripe enabled mail and telephone order payments for your account."
        ),
    )

    def __init__(self, *args: Any, connected: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected = connected
        if connected:
            self.fields["secret_key"].help_text = _("Leave empty to keep the stored key.")
            self.fields["webhook_secret"].help_text = _("Leave empty to keep the stored secret.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        secret, public = data.get("secret_key", ""), data.get("publishable_key", "")
        if not self.connected and not secret and "secret_key" not in self.errors:
            self.add_error("secret_key", _("Enter the secret key."))
        if secret and public and ("_live_" in secret) != ("_live_" in public):
            self.add_error(None, _("Both keys must be test keys or both live keys."))
        return data
