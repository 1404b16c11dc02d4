"""Shop onboarding, settings, team and the shop's email log."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vpos.inputs import is_url_token
from vpos.models import AuditEntry, OutboxEmail
from vpos.outbox import outbox_resend

from . import services
from .access import SESSION_KEY, owner_without_totp, shop_view
from .dashboard import dashboard_figures
from .forms import (
    AuditFilterForm,
    InvitationForm,
    MerchantForm,
    PaymentAccountForm,
    PreferencesForm,
    RoleForm,
)
from .models import Invitation, Membership, PaymentAccount
from .selectors import (
    membership_for_user,
    memberships_for_user,
    pending_invitations,
    team_members,
)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
def shops_home(request: HttpRequest) -> HttpResponse:
    """Where login lands: the last shop used, the only shop, or onboarding for a new user."""
    memberships = list(memberships_for_user(request.user))
    if not memberships:
        return redirect("merchants:onboarding")
    remembered = request.session.get(SESSION_KEY)
    chosen = next(
        (m for m in memberships if str(m.merchant.public_id) == remembered), memberships[0]
    )
    return redirect("merchants:dashboard", shop_id=chosen.merchant.public_id)


def _logo_from(form: MerchantForm):
    logo = form.cleaned_data.get("logo")
    return services.logo_normalize(logo, max_pixels=settings.LOGO_MAX_PIXELS) if logo else None


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    first_shop = not request.user.memberships.exists()
    initial = {"contact_email": request.user.email, "default_language": request.LANGUAGE_CODE}
    form = MerchantForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        merchant = services.merchant_create(
            owner=request.user, data=form.model_data(), logo=_logo_from(form)
        )
        messages.success(request, _("Your shop %(name)s is ready.") % {"name": merchant.name})
        return redirect("merchants:dashboard", shop_id=merchant.public_id)
    return render(request, "merchants/onboarding.html", {"form": form, "first_shop": first_shop})


@login_required
def totp_required(request: HttpRequest, shop_id) -> HttpResponse:
    """Why an owner is asked to set up two-factor authentication, and where."""
    membership = membership_for_user(request.user, shop_id)
    if membership is None:
        raise Http404
    if not owner_without_totp(request.user, shop_id):
        return redirect("merchants:dashboard", shop_id=shop_id)
    return render(request, "merchants/totp_required.html", {"shop": membership.merchant})


@shop_view(cached=True)
def dashboard(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    figures = dashboard_figures(merchant=merchant)
    checklist = None
    if not figures.has_links:  # a new shop: what to do first instead of empty figures
        checklist = [
            (_("Legal details for receipts"), bool(merchant.vat_number or merchant.tax_code)),
            (_("Logo on the checkout page"), bool(merchant.logo)),
            (_("A team member invited"), merchant.memberships.count() > 1),
        ]
    return render(request, "merchants/dashboard.html", {"checklist": checklist, "figures": figures})


@shop_view(owner_only=True)
def shop_settings(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    form = MerchantForm(request.POST or None, request.FILES or None, instance=merchant)
    if request.method == "POST" and form.is_valid():
        services.merchant_update(
            merchant=merchant,
            data=form.model_data(),
            logo=_logo_from(form),
            remove_logo=form.cleaned_data.get("remove_logo", False),
            actor=request.user,
        )
        messages.success(request, _("Shop settings saved."))
        return redirect("merchants:settings", shop_id=merchant.public_id)
    return render(request, "merchants/settings.html", {"form": form})


@shop_view(owner_only=True)
def team(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                merchant=merchant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
            return redirect("merchants:team", shop_id=merchant.public_id)
    context = {
        "form": form,
        "members": team_members(merchant),
        "invitations": pending_invitations(merchant),
        "role_choices": RoleForm.base_fields["role"].choices,
    }
    return render(request, "merchants/team.html", context, status=400 if form.errors else 200)


@shop_view(owner_only=True)
def invitation_revoke(
    request: HttpRequest, membership: Membership, invitation_id: int
) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, merchant=membership.merchant)
    if request.method == "POST":
        try:
            services.invitation_revoke(invitation=invitation, actor=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(
                request, _("Invitation to %(email)s revoked.") % {"email": invitation.email}
            )
        return redirect("merchants:team", shop_id=membership.merchant.public_id)
    return render(
        request,
        "merchants/confirm.html",
        {
            "title": _("Revoke invitation"),
            "question": _(
                "Revoke the invitation sent to %(email)s? The link in the email will stop working."
            )
            % {"email": invitation.email},
            "action": _("Revoke"),
            "cancel_url_name": "merchants:team",
        },
    )


@shop_view(owner_only=True)
@require_POST
def member_role(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    member = get_object_or_404(Membership, pk=member_id, merchant=membership.merchant)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("merchants:team", shop_id=membership.merchant.public_id)
    try:
        services.membership_change_role(
            membership=member, role=form.cleaned_data["role"], actor=request.user
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": member.user.email, "role": member.get_role_display()},
        )
    return redirect("merchants:team", shop_id=membership.merchant.public_id)


def _remove(request: HttpRequest, membership: Membership, member: Membership) -> HttpResponse:
    """Remove `member` after confirmation; used both by owners and by members leaving."""
    leaving = member.pk == membership.pk
    if request.method == "POST":
        try:
            services.membership_remove(membership=member, actor=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            target = "merchants:preferences" if leaving else "merchants:team"
            return redirect(target, shop_id=membership.merchant.public_id)
        if leaving:
            messages.success(request, _("You left %(shop)s.") % {"shop": membership.merchant.name})
            return redirect("merchants:home")
        messages.success(
            request, _("%(email)s was removed from the shop.") % {"email": member.user.email}
        )
        return redirect("merchants:team", shop_id=membership.merchant.public_id)
    if leaving:
        question = _("Leave %(shop)s? You will lose access to its links and payments.") % {
            "shop": membership.merchant.name
        }
    else:
        question = _("Remove %(email)s from %(shop)s? They will lose access at once.") % {
            "email": member.user.email,
            "shop": membership.merchant.name,
        }
    return render(
        request,
        "merchants/confirm.html",
        {
            "title": _("Leave shop") if leaving else _("Remove member"),
            "question": question,
            "action": _("Leave") if leaving else _("Remove"),
            "cancel_url_name": "merchants:preferences" if leaving else "merchants:team",
        },
    )


@shop_view(owner_only=True)
def member_remove(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    member = get_object_or_404(
        Membership.objects.select_related("user"), pk=member_id, merchant=membership.merchant
    )
    return _remove(request, membership, member)


@shop_view()
def leave(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _remove(request, membership, membership)


@shop_view()
def preferences(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=membership)
    if request.method == "POST" and form.is_valid():
        services.membership_set_preferences(
            membership=membership, notify_payments=form.cleaned_data["notify_payments"]
        )
        messages.success(request, _("Preferences saved."))
        return redirect("merchants:preferences", shop_id=membership.merchant.public_id)
    return render(request, "merchants/preferences.html", {"form": form})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    if not is_url_token(token):
        raise Http404
    invitation = (
        Invitation.objects.select_related("merchant", "invited_by").filter(token=token).first()
    )
    if invitation is None:
        raise Http404
    error = None
    if request.method == "POST" and request.user.is_authenticated:
        try:
            member = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            error = _error_text(exc)
        else:
            messages.success(request, _("Welcome to %(shop)s.") % {"shop": member.merchant.name})
            return redirect("merchants:dashboard", shop_id=member.merchant.public_id)
    elif not invitation.is_pending:
        error = _("This invitation is no longer valid. Ask the shop for a new one.")
    elif request.user.is_authenticated and request.user.email.lower() != invitation.email.lower():
        error = _(
            "This invitation was sent to %(email)s. Log in with that address to accept it."
        ) % {"email": invitation.email}
    return render(
        request,
        "merchants/invitation_accept.html",
        {"invitation": invitation, "error": error},
        status=400 if error else 200,
    )


# --- Email log: per shop for owners, and the whole outbox in development --------------------


def _email_list(request: HttpRequest, emails, detail_url_name: str, shop_id=None) -> HttpResponse:
    page = Paginator(
        emails.only(
            "id",
            "kind",
            "to_email",
            "subject",
            "status",
            "created_at",
            "sent_at",
            "attempts",
            "last_error",
        ),
        25,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "merchants/email_list.html",
        {"page_obj": page, "detail_url_name": detail_url_name, "shop_id": shop_id},
    )


def _email_detail(
    request: HttpRequest, email: OutboxEmail, html_url: str, resend_url: str = ""
) -> HttpResponse:
    return render(
        request,
        "merchants/email_detail.html",
        {"email": email, "html_url": html_url, "resend_url": resend_url},
    )


def _email_html(email: OutboxEmail) -> HttpResponse:
    response = HttpResponse(email.body_html or "", content_type="text/html; charset=utf-8")
    # Shown in a sandboxed frame: no scripts, no forms, nothing but the message.
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


@shop_view(owner_only=True)
def emails(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _email_list(
        request,
        OutboxEmail.objects.filter(merchant=membership.merchant),
        "merchants:email_detail",
        shop_id=membership.merchant.public_id,
    )


@shop_view(owner_only=True)
def email_detail(request: HttpRequest, membership: Membership, email_id: int) -> HttpResponse:
    email = _shop_email(membership, email_id)
    shop_id = membership.merchant.public_id
    html_url = reverse("merchants:email_html", args=[shop_id, email.pk])
    resend_url = reverse("merchants:email_resend", args=[shop_id, email.pk])
    return _email_detail(request, email, html_url, resend_url)


def _shop_email(membership: Membership, email_id: int) -> OutboxEmail:
    """One of this shop's emails, or 404 (another shop's emails do not exist for its members)."""
    return get_object_or_404(OutboxEmail, pk=email_id, merchant=membership.merchant)


@shop_view(owner_only=True)
@require_POST
def email_resend(request: HttpRequest, membership: Membership, email_id: int) -> HttpResponse:
    email = _shop_email(membership, email_id)
    if outbox_resend(email=email, actor=request.user):
        messages.success(request, _("The email is queued to be sent again."))
    elif email.purged_at:
        messages.info(request, _("The content of this email was removed: it cannot be sent again."))
    else:
        messages.info(request, _("This email is queued or already sent: it was not sent again."))
    return redirect(
        "merchants:email_detail", shop_id=membership.merchant.public_id, email_id=email.pk
    )


@shop_view(owner_only=True)
def email_html(request: HttpRequest, membership: Membership, email_id: int) -> HttpResponse:
    return _email_html(_shop_email(membership, email_id))


def _dev_only(request: HttpRequest) -> None:
    """The development outbox shows everyone's emails, verification links included: it exists
    only with DEBUG on, and only for a signed-in superuser (`seed_demo` makes one)."""
    if not (settings.DEBUG and request.user.is_authenticated and request.user.is_superuser):
        raise Http404


def dev_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: every email, so a developer can follow a verification link."""
    _dev_only(request)
    return _email_list(request, OutboxEmail.objects.all(), "dev_outbox_detail")


def dev_outbox_detail(request: HttpRequest, email_id: int) -> HttpResponse:
    _dev_only(request)
    email = get_object_or_404(OutboxEmail, pk=email_id)
    return _email_detail(request, email, reverse("dev_outbox_html", args=[email.pk]))


def dev_outbox_html(request: HttpRequest, email_id: int) -> HttpResponse:
    _dev_only(request)
    return _email_html(get_object_or_404(OutboxEmail, pk=email_id))


@shop_view(owner_only=True)
def payment_account(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    account = PaymentAccount.objects.filter(merchant=merchant).first()
    initial = (
        {"publishable_key": account.publishable_key, "moto_enabled": account.moto_enabled}
        if account
        else {}
    )
    form = PaymentAccountForm(request.POST or None, initial=initial, connected=account is not None)
    if request.method == "POST" and request.POST.get("action") == "disconnect" and account:
        services.payment_account_disconnect(merchant=merchant, actor=request.user)
        messages.success(
            request, _("Stripe account disconnected. The platform's account is used again.")
        )
        return redirect("merchants:payment_account", shop_id=merchant.public_id)
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_account_connect(
                merchant=merchant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Stripe account connected and checked."))
            return redirect("merchants:payment_account", shop_id=merchant.public_id)
    webhook_url = settings.SITE_URL + reverse(
        "links:stripe_webhook_shop", args=[merchant.public_id]
    )
    return render(
        request,
        "merchants/payment_account.html",
        {"form": form, "account": account, "webhook_url": webhook_url},
        status=400 if form.errors else 200,
    )


@shop_view(owner_only=True)
def audit_log(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Owners read the shop's audit log; nothing here edits or deletes it."""
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.filter(merchant=membership.merchant).select_related("actor")
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["who"]:
            entries = entries.filter(actor_label__icontains=data["who"])
        if data["date_from"]:
            entries = entries.filter(created_at__date__gte=data["date_from"])
        if data["date_to"]:
            entries = entries.filter(created_at__date__lte=data["date_to"])
    page = Paginator(entries.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "merchants/audit_log.html",
        {"form": form, "page_obj": page},
        status=400 if form.errors else 200,
    )
