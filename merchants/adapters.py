from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest
from django.utils import translation

from vpos.events import Event, record
from vpos.outbox import outbox_store

from .models import Membership, User


class AccountAdapter(DefaultAccountAdapter):
    """Account emails go through the outbox like every other; logins are written to each of the
    user's shops' audit logs."""

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = self.request
        ctx = {
            "request": request,
            "email": email,
            "current_site": get_current_site(request),
            **context,
        }
        message = self.render_mail(template_prefix, email, ctx)
        html = next(
            (
                content
                for content, mimetype in getattr(message, "alternatives", [])
                if mimetype == "text/html"
            ),
            "",
        )
        outbox_store(
            kind=template_prefix.rsplit("/", 1)[-1],
            to=email,
            subject=message.subject,
            body_text=message.body,
            body_html=html,
            language=translation.get_language() or "",
        )

    def login(self, request: HttpRequest, user: User) -> None:
        super().login(request, user)
        address = request.META.get("REMOTE_ADDR")
        for membership in Membership.objects.filter(user=user).select_related("merchant"):
            record(
                Event.LOGGED_IN,
                merchant_id=membership.merchant_id,
                actor=user,
                summary=user.email,
                ip_address=address,
            )
