"""The navigation bar marks the section a back-office page belongs to, and only that one."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

CURRENT = re.compile(r'<(?:a|button) class="nav-link[^"]*"[^>]*aria-current="page"[^>]*>([^<]+)<')


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("links:dashboard", "Dashboard"),
        ("links:list", "Links"),
        ("links:create", "Links"),
        ("links:payments", "Payments"),
        ("links:phone_order_new", "Phone orders"),
        ("links:payment_account", "Shop"),
        ("receipts:list", "Receipts"),
        ("merchants:settings", "Shop"),
        ("integrations:developers", "Shop"),
    ],
)
def test_each_page_marks_its_own_section_only(client_as, shop, name, section):
    response = client_as("owner").get(reverse(name, args=[shop.merchant.public_id]))

    assert response.status_code == 200
    navbar = response.content.decode().split("</nav>", 1)[0]
    assert [text.strip() for text in CURRENT.findall(navbar)] == [section]
