"""The shop form (onboarding and settings): Italian identifiers, colours and the logo upload."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from merchants.models import Merchant

INVALID_INPUT = [
    pytest.param(
        {"vat_number": "12345678901"},
        "vat_number",
        "This Partita IVA is not valid: its check digit does not match.",
        id="partita-iva-check-digit",
    ),
    pytest.param(
        {"vat_number": "1234567890"},
        "vat_number",
        "A Partita IVA has exactly 11 digits.",
        id="partita-iva-length",
    ),
    pytest.param(
        {"vat_number": "", "country": "IT"},
        "vat_number",
        "Italian shops need a Partita IVA.",
        id="italian-shop-without-partita-iva",
    ),
    pytest.param(
        {"tax_code": "RSSMRA85T10A562T"},
        "tax_code",
        "Enter a valid codice fiscale: 16 characters for a person or 11 digits for a company.",
        id="codice-fiscale",
    ),
    pytest.param(
        {"sdi_code": "ABC12"},
        "sdi_code",
        "An SDI recipient code has 7 letters or digits.",
        id="sdi-code",
    ),
    pytest.param(
        {"brand_color": "blue"},
        "brand_color",
        "Enter a colour as #RRGGBB, e.g. #0d6efd.",
        id="brand-colour",
    ),
]


def image_bytes(image_format: str, size=(64, 64), mode="RGB", color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=image_format)
    return buffer.getvalue()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels, about 3 bytes each."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def settings_url(shop) -> str:
    return reverse("merchants:settings", args=[shop.merchant.public_id])


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID_INPUT)
def test_settings_refuse_invalid_input_and_keep_the_shop(
    client_as, shop, shop_form_data, overrides, field, message
):
    before = Merchant.objects.values().get(pk=shop.merchant.pk)

    response = client_as("owner").post(
        settings_url(shop), shop_form_data(shop.merchant, name="Changed", **overrides)
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in response.text
    assert Merchant.objects.values().get(pk=shop.merchant.pk) == before


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID_INPUT)
def test_onboarding_refuses_invalid_input_and_creates_no_shop(
    client_as, shop, shop_form_data, overrides, field, message
):
    response = client_as("staff").post(reverse("merchants:onboarding"), shop_form_data(**overrides))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert not Merchant.objects.filter(name="Bottega Nuova").exists()


def test_foreign_shops_need_no_partita_iva(client_as, shop, shop_form_data):
    response = client_as("owner").post(
        settings_url(shop),
        shop_form_data(shop.merchant, country="CH", vat_number="", tax_code="", province=""),
    )

    assert response.status_code == 302
    shop.merchant.refresh_from_db()
    assert shop.merchant.country == "CH"
    assert shop.merchant.vat_number == ""


def test_partita_iva_is_stored_without_prefix_and_spaces(client_as, shop, shop_form_data):
    response = client_as("owner").post(
        settings_url(shop),
        shop_form_data(shop.merchant, vat_number="IT 012 345 600 17", sdi_code="m5uxcr1"),
    )

    assert response.status_code == 302
    shop.merchant.refresh_from_db()
    assert shop.merchant.vat_number == "01234560017"
    assert shop.merchant.sdi_code == "M5UXCR1"


# --- Logo ------------------------------------------------------------------------------------

BAD_LOGOS = [
    pytest.param(
        "logo.png",
        b"just some text, not pixels\n",
        "This file is not an image we can read.",
        id="text-named-png",
    ),
    pytest.param(
        "logo.gif",
        image_bytes("GIF"),
        "Upload a PNG, JPEG or WebP image.",
        id="gif",
    ),
]


@pytest.mark.parametrize(("filename", "content", "message"), BAD_LOGOS)
def test_unusable_logos_are_refused(client_as, shop, shop_form_data, filename, content, message):
    upload = SimpleUploadedFile(filename, content)

    response = client_as("owner").post(
        settings_url(shop), shop_form_data(shop.merchant, name="Changed", logo=upload)
    )

    assert response.status_code == 200
    assert response.context["form"].errors["logo"] == [message]
    shop.merchant.refresh_from_db()
    assert not shop.merchant.logo
    assert shop.merchant.name != "Changed"


def test_logo_over_2_mb_is_refused(client_as, shop, shop_form_data):
    content = noise_png(900)
    assert len(content) > 2 * 1024 * 1024
    upload = SimpleUploadedFile("big.png", content, "image/png")

    response = client_as("owner").post(
        settings_url(shop), shop_form_data(shop.merchant, logo=upload)
    )

    assert response.status_code == 200
    assert response.context["form"].errors["logo"] == [
        "The logo is larger than 2 MB. Upload a smaller image."
    ]
    shop.merchant.refresh_from_db()
    assert not shop.merchant.logo


@pytest.mark.parametrize(
    ("image_format", "size", "stored_size"),
    [
        ("PNG", (1200, 600), (512, 256)),
        ("JPEG", (800, 1000), (410, 512)),
        ("PNG", (100, 50), (100, 50)),
    ],
)
def test_logo_is_stored_as_png_at_most_512_px(
    client_as, shop, shop_form_data, image_format, size, stored_size
):
    upload = SimpleUploadedFile("logo.img", image_bytes(image_format, size), "image/octet-stream")

    response = client_as("owner").post(
        settings_url(shop), shop_form_data(shop.merchant, logo=upload)
    )

    assert response.status_code == 302
    shop.merchant.refresh_from_db()
    assert shop.merchant.logo.name.endswith(".png")
    with shop.merchant.logo.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "PNG"
        assert image.size == stored_size


def test_a_new_shop_can_start_with_a_logo(client_as, shop, shop_form_data):
    upload = SimpleUploadedFile("logo.jpg", image_bytes("JPEG", (1024, 1024)), "image/jpeg")

    response = client_as("staff").post(
        reverse("merchants:onboarding"), shop_form_data(name="Con Logo", logo=upload)
    )

    assert response.status_code == 302
    merchant = Merchant.objects.get(name="Con Logo")
    with merchant.logo.open("rb") as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("PNG", (512, 512))


def test_the_logo_can_be_removed(client_as, shop, shop_form_data):
    owner = client_as("owner")
    upload = SimpleUploadedFile("logo.png", image_bytes("PNG"), "image/png")
    owner.post(settings_url(shop), shop_form_data(shop.merchant, logo=upload))
    shop.merchant.refresh_from_db()
    assert shop.merchant.logo

    response = owner.post(settings_url(shop), shop_form_data(shop.merchant, remove_logo="on"))

    assert response.status_code == 302
    shop.merchant.refresh_from_db()
    assert not shop.merchant.logo
