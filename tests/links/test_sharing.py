"""Getting a link to a customer: send it by email, share buttons, QR codes, the counter card."""

from __future__ import annotations

import email.header
import html
import io
import re
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import qrcode
import zxingcpp
from django.core import mail
from django.urls import reverse
from PIL import Image, ImageDraw
from qrcode.constants import ERROR_CORRECT_M

from links.models import LinkStatus, PaymentLink
from tests.support.factories import PaymentLinkFactory
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db

ACTORS_WHO_MAY = ["owner", "staff"]
ENDPOINTS = ["detail", "qr_png", "qr_svg", "card"]
EXPIRY = datetime(2031, 3, 14, 15, 30, tzinfo=ZoneInfo("Europe/Rome"))


def url(name: str, shop, link: PaymentLink) -> str:
    return reverse(f"links:{name}", args=[shop.merchant.public_id, link.pk])


@pytest.fixture
def link(shop) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant,
        amount=1999,
        description="Tailored jacket",
        reference="ORD-1042",
        customer_name="Anna Bianchi",
        customer_email="anna@example.com",
        expires_at=EXPIRY,
    )


@pytest.fixture
def other_link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.outsider.merchant, description="Someone else's")


def send(client, shop, link, **data: str):
    values = {"to": "anna@example.com", "message": "", "language": "en"} | data
    return client.post(url("detail", shop, link), values)


def link_emails(link: PaymentLink):
    return OutboxEmail.objects.filter(ref=f"link:{link.pk}", kind="link").order_by("pk")


# --- Who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_owner_and_staff_send_the_link(client_as, shop, link, actor):
    response = send(client_as(actor), shop, link)

    assert response.status_code == 302
    assert response.url == url("detail", shop, link)
    assert link_emails(link).count() == 1


@pytest.mark.parametrize("name", ["qr_png", "qr_svg", "card"])
@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_owner_and_staff_get_the_qr_codes_and_the_card(client_as, shop, link, actor, name):
    assert client_as(actor).get(url(name, shop, link)).status_code == 200


@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_member_of_another_shop_gets_404(client_as, shop, link, name):
    outsider = client_as("outsider")
    response = (
        send(outsider, shop, link) if name == "detail" else outsider.get(url(name, shop, link))
    )

    assert response.status_code == 404
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize("name", ENDPOINTS)
def test_anonymous_visitor_is_sent_to_login(client_as, shop, link, name):
    anonymous = client_as("anonymous")
    response = (
        send(anonymous, shop, link) if name == "detail" else anonymous.get(url(name, shop, link))
    )

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_another_shops_link_under_this_shops_url_is_404(client_as, shop, other_link, actor, name):
    client = client_as(actor)
    response = (
        send(client, shop, other_link)
        if name == "detail"
        else client.get(url(name, shop, other_link))
    )

    assert response.status_code == 404
    assert not OutboxEmail.objects.exists()


# --- Sending by email ------------------------------------------------------------------------


def test_the_email_is_queued_for_the_address_in_english(client_as, shop, link):
    send(client_as("staff"), shop, link, to="anna.b@example.com", language="en")

    [email] = link_emails(link)
    assert (email.kind, email.ref, email.to_email) == (
        "link",
        f"link:{link.pk}",
        "anna.b@example.com",
    )
    assert email.status == OutboxEmail.Status.QUEUED
    assert email.language == "en"
    assert email.merchant == shop.merchant
    assert email.reply_to == shop.merchant.contact_email
    assert email.subject == "Payment request from Bottega Uno: €19.99"
    for body in (email.body_text, email.body_html):
        assert link.public_url in body
        assert "€19.99" in body
        assert "Tailored jacket" in body
        assert "ORD-1042" in body
        assert "14 March 2031" in body  # pay by: day first, as in Europe
        assert "Dear Anna Bianchi," in body
    assert '<html lang="en">' in email.body_html
    # The pay button is a link to the customer's page (naming who it was sent to), in the shop's name.
    pay_link = rf'<a href="{re.escape(link.public_url)}\?for=[^"]+"[^>]*>Pay now</a>'
    assert re.search(pay_link, email.body_html)
    assert "Bottega Uno" in email.body_html


def test_the_email_in_italian_is_italian_words_amount_and_date(client_as, shop, link):
    send(client_as("owner"), shop, link, language="it")

    [email] = link_emails(link)
    assert email.language == "it"
    assert '<html lang="it">' in email.body_html
    # A plain space in the subject: header values are folded to one line.
    assert email.subject == "Richiesta di pagamento da Bottega Uno: 19,99 €"
    pay_link = rf'<a href="{re.escape(link.public_url)}\?for=[^"]+"[^>]*>Paga ora</a>'
    assert re.search(pay_link, email.body_html)
    for body in (email.body_text, email.body_html):
        assert "Ciao Anna Bianchi," in body
        assert "Bottega Uno ti chiede di pagare" in body
        assert "19,99\xa0€" in body
        assert "€19.99" not in body
        assert link.public_url in body
        assert "Da pagare entro: venerdì 14 marzo 2031" in body  # Django's Italian date format


def test_the_email_shows_the_shop_logo(client_as, shop, link):
    shop.merchant.logo.name = "logos/bottega.png"
    shop.merchant.save(update_fields=["logo"])

    send(client_as("owner"), shop, link)

    [email] = link_emails(link)
    assert (
        '<img src="http://testserver/media/logos/bottega.png" alt="Bottega Uno"' in email.body_html
    )


def test_the_personal_message_is_shown_and_its_html_is_escaped(client_as, shop, link):
    message = "Hi Anna, <b>thanks</b> & see you soon <script>alert(1)</script>"

    send(client_as("owner"), shop, link, message=message)

    [email] = link_emails(link)
    assert message in email.body_text
    assert "Hi Anna, &lt;b&gt;thanks&lt;/b&gt; &amp; see you soon" in email.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.body_html
    assert "<script" not in email.body_html
    assert "<b>thanks" not in email.body_html


def test_the_queued_email_is_delivered_with_both_bodies(
    client_as, shop, link, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(client_as("owner"), shop, link, message="See you on Friday")

    [sent] = mail.outbox
    assert sent.to == ["anna@example.com"]
    assert sent.reply_to == [shop.merchant.contact_email]
    assert link.public_url in sent.body
    assert "See you on Friday" in sent.body
    [(html_body, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    assert link.public_url in html_body
    assert link_emails(link).get().status == OutboxEmail.Status.SENT


def test_sending_again_queues_a_second_email_and_the_page_lists_both(client_as, shop, link):
    client = client_as("owner")
    send(client, shop, link, to="anna@example.com")
    page = client.get(url("detail", shop, link))
    assert ">Send again</button>" in page.text

    send(client, shop, link, to="anna.work@example.com")

    assert [e.to_email for e in link_emails(link)] == ["anna@example.com", "anna.work@example.com"]
    emails = emails_section(client.get(url("detail", shop, link)).text)
    assert "anna@example.com" in emails
    assert "anna.work@example.com" in emails
    assert emails.count("Queued") == 2


def emails_section(page: str) -> str:
    return page.split('id="emails-title"', 1)[1]


def test_the_page_shows_each_emails_status_and_a_failures_reason(
    client_as, shop, link, mail_server, django_capture_on_commit_callbacks
):
    mail_server.refused["wrong@example.com"] = "550 5.1.1 <wrong@example.com>: mailbox unavailable"
    client = client_as("staff")
    with django_capture_on_commit_callbacks(execute=True):
        send(client, shop, link, to="wrong@example.com")
        send(client, shop, link, to="anna@example.com")
    queued = OutboxEmail.objects.create(
        kind="link",
        ref=f"link:{link.pk}",
        merchant=shop.merchant,
        to_email="later@example.com",
        subject="s",
        body_text="b",
        dedupe_key="queued-one",
    )

    emails = emails_section(client.get(url("detail", shop, link)).text)

    rows = re.findall(r'<li class="list-group-item[^"]*">(.*?)</li>', emails, re.S)
    by_address = {re.search(r"[\w.]+@example\.com", row).group(): row for row in rows}
    assert set(by_address) == {"wrong@example.com", "anna@example.com", queued.to_email}
    assert ">Sent<" in by_address["anna@example.com"]
    assert ">Queued<" in by_address["later@example.com"]
    failed = by_address["wrong@example.com"]
    assert ">Failed<" in failed
    assert "550" in failed
    assert "mailbox unavailable" in failed
    assert [d.rcpt_tos for d in mail_server.received] == [["anna@example.com"]]


def test_an_invalid_address_is_refused_with_a_message_and_nothing_is_queued(client_as, shop, link):
    response = send(client_as("owner"), shop, link, to="anna@example")

    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert not OutboxEmail.objects.exists()


def test_an_address_smuggling_a_header_is_refused(client_as, shop, link):
    response = send(client_as("owner"), shop, link, to="anna@example.com\r\nBcc: x@evil.example")

    assert response.status_code == 400
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize("status", [LinkStatus.DEACTIVATED, LinkStatus.PAID, LinkStatus.EXPIRED])
def test_a_link_that_cannot_be_paid_cannot_be_sent(client_as, shop, link, status):
    PaymentLink.objects.filter(pk=link.pk).update(status=status)
    client = client_as("owner")
    assert 'id="send-title"' not in client.get(url("detail", shop, link)).text

    response = send(client, shop, link)

    assert "This link can no longer be paid: there is nothing to send." in response.text
    assert not OutboxEmail.objects.exists()


# --- Share buttons ---------------------------------------------------------------------------


def test_share_buttons_carry_the_link_amount_and_shop(client_as, shop, link):
    page = client_as("staff").get(url("detail", shop, link)).text

    public_url = html.unescape(re.search(r'id="public-url"[^>]*value="([^"]+)"', page).group(1))
    assert public_url == link.public_url
    assert 'data-copy-target="#public-url"' in page
    whatsapp = html.unescape(re.search(r'href="(https://wa\.me/[^"]+)"', page).group(1))
    sms = html.unescape(re.search(r'href="(sms:[^"]+)"', page).group(1))
    expected = f"Pay €19.99 to Bottega Uno: {link.public_url}"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(whatsapp).query)["text"] == [expected]
    assert urllib.parse.parse_qs(sms.split("?", 1)[1])["body"] == [expected]
    native = re.search(r"<button[^>]*data-share-url=[^>]*>", page).group()
    assert html.unescape(re.search(r'data-share-url="([^"]+)"', native).group(1)) == link.public_url
    # The share sheet adds the URL itself: the text must not carry it a second time.
    text = html.unescape(re.search(r'data-share-text="([^"]+)"', native).group(1))
    assert text == "Pay €19.99 to Bottega Uno"


# --- QR codes --------------------------------------------------------------------------------


def decode(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def reference_matrix(data: str) -> list[list[bool]]:
    """The modules `qrcode` itself computes for the data, without the quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def svg_modules(svg: str) -> tuple[list[list[bool]], Image.Image]:
    """Rasterize the SVG's path (absolute M/H/V/z squares) at 10 px per unit.

    Returns the module matrix inside the quiet zone and the rendered image (white background).
    """
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    [path] = root.iter("{http://www.w3.org/2000/svg}path")
    scale = 10
    image = Image.new("L", (int(width * scale), int(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    for subpath in re.findall(r"M[^M]+", path.get("d")):
        x, y = (float(v) for v in re.match(r"M([\d.]+),([\d.]+)", subpath).groups())
        points = [(x, y)]
        for command, value in re.findall(r"([HV])([\d.]+)", subpath):
            x, y = (float(value), y) if command == "H" else (x, float(value))
            points.append((x, y))
        draw.polygon([(px * scale, py * scale) for px, py in points], fill=0)
    border = 4
    size = int(width) - 2 * border
    matrix = [
        [
            image.getpixel(((border + c) * scale + 5, (border + r) * scale + 5)) == 0
            for c in range(size)
        ]
        for r in range(size)
    ]
    return matrix, image


def test_the_png_decodes_to_exactly_the_links_public_url(client_as, shop, link):
    response = client_as("staff").get(url("qr_png", shop, link))

    assert response["Content-Type"] == "image/png"
    assert f'filename="payment-link-{link.pk}.png"' in response["Content-Disposition"]
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert decode(image) == [link.public_url]


def test_the_svg_draws_the_same_code_and_decodes_to_the_public_url(client_as, shop, link):
    response = client_as("owner").get(url("qr_svg", shop, link))

    assert response["Content-Type"] == "image/svg+xml"
    assert f'filename="payment-link-{link.pk}.svg"' in response["Content-Disposition"]
    matrix, image = svg_modules(response.content.decode())
    assert matrix == reference_matrix(link.public_url)
    assert decode(image) == [link.public_url]


@pytest.mark.parametrize("name", ["qr_png", "qr_svg"])
def test_qr_downloads_are_cached_for_long_and_revalidated_by_etag(client_as, shop, link, name):
    client = client_as("owner")
    first = client.get(url(name, shop, link))
    cache_control = first["Cache-Control"]
    assert "max-age=31536000" in cache_control
    assert "immutable" in cache_control
    assert "public" not in cache_control  # behind a login: no shared cache may keep it
    etag = first["ETag"]
    assert etag.startswith('"')
    assert link.token[:8] not in etag  # the token is the customer's secret

    again = client.get(url(name, shop, link), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    # The same validator weakened by a gzipping proxy, or one in a list, still matches.
    weak = client.get(url(name, shop, link), HTTP_IF_NONE_MATCH=f'"other", W/{etag}')
    assert weak.status_code == 304

    # A validator that is not ours gets the full image.
    stale = client.get(url(name, shop, link), HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200
    assert stale.content == first.content


def test_each_link_and_format_has_its_own_etag(client_as, shop, link):
    other = PaymentLinkFactory(merchant=shop.merchant)
    client = client_as("owner")
    etags = {
        client.get(url(name, shop, each))["ETag"]
        for name in ("qr_png", "qr_svg")
        for each in (link, other)
    }
    assert len(etags) == 4
    # Another link's ETag never turns this link's QR code into a 304.
    response = client.get(
        url("qr_png", shop, link), HTTP_IF_NONE_MATCH=client.get(url("qr_png", shop, other))["ETag"]
    )
    assert response.status_code == 200


def test_the_inline_qr_code_has_an_accessible_name_and_decodes(client_as, shop, link):
    page = client_as("staff").get(url("detail", shop, link)).text

    svg = re.search(r'<div class="vpos-qr[^"]*">(<svg.*?</svg>)</div>', page, re.S).group(1)
    assert 'role="img"' in svg
    assert 'aria-label="QR code of the payment link"' in svg
    matrix, image = svg_modules(svg)
    assert matrix == reference_matrix(link.public_url)
    assert decode(image) == [link.public_url]
    assert 'width="' not in svg.split(">", 1)[0]  # scales with the page, no fixed size


# --- The printable counter card ----------------------------------------------------------------


def test_the_counter_card_has_amount_description_qr_and_url(client_as, shop, link):
    page = client_as("staff").get(url("card", shop, link)).text

    main = page.split('<main class="vpos-counter-card"', 1)[1]
    assert "€19.99" in main
    assert "Tailored jacket" in main
    assert link.public_url in main
    assert "Bottega Uno" in main  # the shop's name stands in for a missing logo
    assert "Scan to pay by card" in main
    svg = re.search(r"(<svg.*?</svg>)", main, re.S).group(1)
    assert 'aria-label="QR code of the payment link"' in svg
    assert decode(svg_modules(svg)[1]) == [link.public_url]
    assert "data-print" in page


# --- Header injection ---------------------------------------------------------------------------


def test_names_and_descriptions_cannot_add_headers_to_the_link_email(
    client_as, shop, mail_server, django_capture_on_commit_callbacks
):
    injection = "\r\nBcc: x@evil.example"
    shop.merchant.name = f"Bottega{injection}"
    shop.merchant.save(update_fields=["name"])
    link = PaymentLinkFactory(
        merchant=shop.merchant,
        description=f"Jacket{injection}",
        customer_name=f"Anna{injection}",
        reference=f"ORD-1{injection}",
    )

    with django_capture_on_commit_callbacks(execute=True):
        send(client_as("owner"), shop, link, message=f"Hello{injection}")

    [received] = mail_server.received
    assert received.rcpt_tos == ["anna@example.com"]
    message = received.message
    assert len(message.get_all("Subject")) == 1
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "Payment request from Bottega Bcc: x@evil.example: €19.99"
    assert message["Bcc"] is None
    head = received.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc:") for line in head.splitlines())
