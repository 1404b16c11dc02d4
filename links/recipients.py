"""Who a payment link was sent to by email.

"Send by email" puts the recipient in the link it sends (`?for=`, signed): the checkout page
prefills the address and, if the customer empties the field, the confirmation still goes there.
A reusable link sent to many customers carries each one's own address.
"""

from __future__ import annotations

from django.core import signing

from .models import PaymentLink

RECIPIENT_SALT = "vpos.link-recipient"


def recipient_token(link: PaymentLink, email: str) -> str:
    return signing.Signer(salt=RECIPIENT_SALT).sign_object(
        {"l": link.pk, "e": email}, compress=True
    )


def recipient_from(token: str, link: PaymentLink) -> str:
    """The address a `recipient_token` names for this link, or "" (absent, tampered, another
    link's)."""
    if not token or len(token) > 1000:
        return ""
    try:
        data = signing.Signer(salt=RECIPIENT_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return ""
    if not isinstance(data, dict) or data.get("l") != link.pk:
        return ""
    email = data.get("e")
    return email if isinstance(email, str) else ""
