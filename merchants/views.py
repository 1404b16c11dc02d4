"""Shop onboarding, settings, team and the shop's email log."""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vpos.email_views import email_detail_page, email_html_response, email_list_page
from vpos.inputs import is_url_token
from vpos.models import OutboxEmail
from vpos.outbox import outbox_resend

from . import selectors, services
from .access import SESSION_KEY, owner_without_totp, shop_view
from .fiscal import shop_details_missing
from .forms import (
    AuditFilterForm,
    FiscalProfileForm,
    InvitationForm,
    MerchantForm,
    PreferencesForm,
    RoleForm,
)
from .models import FiscalProfile, Membership
from .selectors import (
    membership_for_user,
    memberships_for_user,
    pending_invitations,
    team_members,
)

T = TypeVar("T")


def _found(obj: T | None) -> T:
    """The object a URL names, or 404."""
    if obj is None:
        raise Http404
    return obj


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
    return redirect("links:dashboard", shop_id=chosen.merchant.public_id)


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
        return redirect("links:dashboard", shop_id=merchant.public_id)
    return render(request, "merchants/onboarding.html", {"form": form, "first_shop": first_shop})


@login_required
def totp_required(request: HttpRequest, shop_id) -> HttpResponse:
    """Why an owner is asked to set up two-factor authentication, and where."""
    membership = membership_for_user(request.user, shop_id)
    if membership is None:
        raise Http404
    if not owner_without_totp(request.user, shop_id):
        return redirect("links:dashboard", shop_id=shop_id)
    return render(request, "merchants/totp_required.html", {"shop": membership.merchant})


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
def fiscal_profile(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Electronic invoicing: whether customers are offered invoices, the tax treatment, and how
    the files reach the SDI."""
    merchant = membership.merchant
    profile = FiscalProfile.objects.filter(merchant=merchant).first() or FiscalProfile(
        merchant=merchant
    )
    form = FiscalProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        # As the model's clean() settled them (the nature that goes with the regime and rate).
        data = {name: getattr(form.instance, name) for name in form.Meta.fields}
        services.fiscal_profile_update(merchant=merchant, data=data, actor=request.user)
        messages.success(request, _("Electronic invoicing settings saved."))
        return redirect("merchants:fiscal_profile", shop_id=merchant.public_id)
    return render(
        request,
        "merchants/fiscal_profile.html",
        {"form": form, "missing": shop_details_missing(merchant)},
    )


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
    invitation = _found(selectors.shop_invitation(membership.merchant, invitation_id))
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
    member = _found(selectors.shop_member(membership.merchant, member_id))
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
    member = _found(selectors.shop_member(membership.merchant, member_id))
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
    invitation = _found(selectors.invitation_for_token(token))
    error = None
    if request.method == "POST" and request.user.is_authenticated:
        try:
            member = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            error = _error_text(exc)
        else:
            messages.success(request, _("Welcome to %(shop)s.") % {"shop": member.merchant.name})
            return redirect("links:dashboard", shop_id=member.merchant.public_id)
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


@shop_view(owner_only=True)
def emails(request: HttpRequest, membership: Membership) -> HttpResponse:
    return email_list_page(
        request,
        selectors.shop_emails(membership.merchant),
        "merchants:email_detail",
        shop_id=membership.merchant.public_id,
    )


@shop_view(owner_only=True)
def email_detail(request: HttpRequest, membership: Membership, email_id: int) -> HttpResponse:
    email = _shop_email(membership, email_id)
    shop_id = membership.merchant.public_id
    html_url = reverse("merchants:email_html", args=[shop_id, email.pk])
    resend_url = reverse("merchants:email_resend", args=[shop_id, email.pk])
    return email_detail_page(request, email, html_url, resend_url)


def _shop_email(membership: Membership, email_id: int) -> OutboxEmail:
    """One of this shop's emails, or 404 (another shop's emails do not exist for its members)."""
    return _found(selectors.shop_email(membership.merchant, email_id))


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
    return email_html_response(_shop_email(membership, email_id))


@shop_view(owner_only=True)
def audit_log(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Owners read the shop's audit log; nothing here edits or deletes it."""
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_entries(membership.merchant, **filters)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "merchants/audit_log.html",
        {"form": form, "page_obj": page},
        status=400 if form.errors else 200,
    )
