from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from vpos.inputs import DayField
from vpos.models import Action

from .fiscal import NATURA_CHOICES, REGIME_CHOICES
from .models import FiscalProfile, InvoiceOffer, Membership, Merchant, Role
from .validators import (
    codice_fiscale_is_valid,
    partita_iva_is_valid,
    validate_codice_fiscale,
    validate_partita_iva,
    validate_sdi_code,
)

LOGO_FORMATS = {"PNG", "JPEG", "WEBP"}
LOGO_MAX_SOURCE_PIXELS = 40_000_000  # refuse decompression bombs before decoding


class MerchantForm(forms.ModelForm):
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG or WebP, up to 2 MB. Shown on checkout pages and receipts."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)

    class Meta:
        model = Merchant
        fields = [
            "name",
            "legal_name",
            "vat_number",
            "tax_code",
            "address",
            "postal_code",
            "city",
            "province",
            "country",
            "contact_email",
            "contact_phone",
            "pec",
            "sdi_code",
            "default_currency",
            "default_language",
            "time_zone",
            "brand_color",
        ]
        widgets = {"brand_color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not (self.instance.pk and self.instance.logo):
            del self.fields["remove_logo"]

    def clean_vat_number(self) -> str:
        value = re.sub(r"[\s.\-]", "", self.cleaned_data["vat_number"]).upper()
        return value.removeprefix("IT") if value.startswith("IT") and len(value) == 13 else value

    def clean_tax_code(self) -> str:
        value = re.sub(r"\s", "", self.cleaned_data["tax_code"]).upper()
        if value:
            validate_codice_fiscale(value)
        return value

    def clean_sdi_code(self) -> str:
        value = self.cleaned_data["sdi_code"].strip().upper()
        if value:
            validate_sdi_code(value)
        return value

    def clean_province(self) -> str:
        return self.cleaned_data["province"].strip().upper()

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if not logo:
            return None
        if logo.size > settings.LOGO_MAX_BYTES:
            raise ValidationError(_("The logo is larger than 2 MB. Upload a smaller image."))
        try:
            logo.seek(0)
            with Image.open(logo) as image:
                if image.format not in LOGO_FORMATS:
                    raise ValidationError(_("Upload a PNG, JPEG or WebP image."))
                if image.width * image.height > LOGO_MAX_SOURCE_PIXELS:
                    raise ValidationError(_("The logo has too many pixels."))
                image.verify()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
            raise ValidationError(_("This file is not an image we can read.")) from error
        return logo

    def model_data(self) -> dict[str, Any]:
        """The cleaned values of the model's own fields, for the services."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("country") == "IT":
            vat = data.get("vat_number")
            if not vat and "vat_number" not in self.errors:
                self.add_error("vat_number", _("Italian shops need a Partita IVA."))
            elif vat:
                try:
                    validate_partita_iva(vat)
                except ValidationError as error:
                    self.add_error("vat_number", error)
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["notify_payments"]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    who = forms.CharField(label=_("Who"), required=False, max_length=254)
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=_("To"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions")), *Action.choices]


INVOICE_VAT_RATES = [(22, "22%"), (10, "10%"), (5, "5%"), (4, "4%"), (0, "0%")]
FLAT_RATE_REGIME, FLAT_RATE_NATURE = "RF19", "N2.2"


class FiscalProfileForm(forms.ModelForm):
    """The shop's electronic invoicing: what the owner chooses, checked against what a valid
    FatturaPA file needs from the shop."""

    regime = forms.ChoiceField(label=_("Tax regime"), choices=REGIME_CHOICES)
    vat_rate = forms.TypedChoiceField(
        label=_("Default VAT rate"),
        choices=INVOICE_VAT_RATES,
        coerce=int,
        help_text=_("Used when a link names no VAT rate of its own."),
    )
    vat_nature = forms.ChoiceField(
        label=_("VAT exemption nature"),
        choices=[("", "—"), *NATURA_CHOICES],
        required=False,
        help_text=_("Required when the rate is zero, e.g. N2.2 for the flat-rate scheme."),
    )

    class Meta:
        model = FiscalProfile
        fields = [
            "invoicing",
            "regime",
            "vat_rate",
            "vat_nature",
            "prices_include_vat",
            "delivery",
            "sdi_pec",
            "transmitter_code",
        ]
        widgets = {"invoicing": forms.RadioSelect, "delivery": forms.RadioSelect}

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        # Their section's heading names them already (templates/merchants/fiscal_profile.html).
        self.fields["invoicing"].label = ""
        self.fields["delivery"].label = ""

    def clean_transmitter_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["transmitter_code"]).upper()
        if code.startswith("IT") and len(code) == 13:
            code = code[2:]
        if code and not codice_fiscale_is_valid(code):
            raise ValidationError(
                _("Enter your intermediary's codice fiscale or Partita IVA, or leave it empty.")
            )
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("regime") == FLAT_RATE_REGIME:
            if data.get("vat_rate") != 0:
                self.add_error(
                    "vat_rate",
                    _("The flat-rate scheme (RF19) invoices without VAT: choose 0% and N2.2."),
                )
            elif data.get("vat_nature") not in ("", FLAT_RATE_NATURE):
                self.add_error(
                    "vat_nature", _("The flat-rate scheme (RF19) invoices with nature N2.2.")
                )
            else:
                data["vat_nature"] = FLAT_RATE_NATURE
        if data.get("vat_rate") == 0 and not data.get("vat_nature"):
            self.add_error(
                "vat_nature", _("Choose the nature of the operation: invoices without VAT need it.")
            )
        if data.get("vat_rate"):
            data["vat_nature"] = ""
        if data.get("invoicing", InvoiceOffer.OFF) != InvoiceOffer.OFF:
            missing = self.missing_shop_details()
            if missing:
                raise ValidationError(
                    _(
                        "To issue electronic invoices, complete the shop's legal details first: "
                        "%(missing)s."
                    )
                    % {"missing": ", ".join(str(item) for item in missing)},
                    code="shop_details",
                )
        return data

    def missing_shop_details(self) -> list[Any]:
        """What the shop's settings lack for a valid invoice (its seller block)."""
        shop = self.merchant
        missing: list[Any] = []
        if shop.country == "IT" and not partita_iva_is_valid(shop.vat_number or ""):
            missing.append(_("a valid Partita IVA"))
        elif not shop.vat_number:
            missing.append(_("the VAT number"))
        if not shop.legal_name:
            missing.append(_("the legal name"))
        if not (shop.address and shop.city):
            missing.append(_("the address"))
        if shop.country == "IT" and not re.fullmatch(r"[0-9]{5}", shop.postal_code or ""):
            missing.append(_("a 5-digit postal code"))
        if shop.country == "IT" and not re.fullmatch(r"[A-Za-z]{2}", shop.province or ""):
            missing.append(_("the province"))
        return missing
