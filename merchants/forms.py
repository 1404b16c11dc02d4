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
from .models import FiscalProfile, Membership, Merchant, Role
from .validators import validate_codice_fiscale, validate_partita_iva, validate_sdi_code

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


class FiscalProfileForm(forms.ModelForm):
    """The shop's electronic invoicing: what the owner chooses. FiscalProfile.clean() checks it
    against what a valid FatturaPA file needs."""

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Their section's heading names them already (templates/merchants/fiscal_profile.html).
        self.fields["invoicing"].label = ""
        self.fields["delivery"].label = ""

    def clean_transmitter_code(self) -> str:
        """Typed as it comes (spaces, an IT prefix on a Partita IVA); the model checks it."""
        code = re.sub(r"\s", "", self.cleaned_data["transmitter_code"]).upper()
        return code[2:] if code.startswith("IT") and len(code) == 13 else code
