from allauth.account.adapter import DefaultAccountAdapter
from django.utils import translation

from vpos.outbox import outbox_store


class AccountAdapter(DefaultAccountAdapter):
    """Account emails (verification, password reset) go through the outbox like every other."""

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = self.request
        ctx = {"request": request, "email": email, **context}
        from django.contrib.sites.shortcuts import get_current_site

        ctx["current_site"] = get_current_site(request)
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
