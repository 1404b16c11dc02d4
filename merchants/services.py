"""Write paths for shops and teams. Views, admin and commands call these, never the ORM directly."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from vpos.events import Event, record
from vpos.outbox import EmailAbout, email_key, outbox_enqueue

from .models import FiscalProfile, Invitation, Membership, Merchant, Role, User

INVITATION_VALID_FOR = timedelta(days=7)


def logo_normalize(upload: UploadedFile, *, max_pixels: int) -> ContentFile:
    """Re-encode an uploaded (already validated) logo as a PNG no larger than max_pixels a side.

    Re-encoding drops anything that is not pixels (metadata, trailing payloads).
    """
    upload.seek(0)
    with Image.open(upload) as image:
        image.load()
        image = image.convert("RGBA")
        image.thumbnail((max_pixels, max_pixels), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    return ContentFile(buffer.getvalue(), name="logo.png")


@transaction.atomic
def merchant_create(
    *, owner: User, data: dict[str, Any], logo: ContentFile | None = None
) -> Merchant:
    """Create a shop and make `owner` its first owner."""
    merchant = Merchant(**data)
    merchant.full_clean(exclude=["logo"])
    merchant.save()
    if logo is not None:
        merchant.logo.save(logo.name, logo, save=True)
    Membership.objects.create(user=owner, merchant=merchant, role=Role.OWNER, notify_payments=True)
    return merchant


@transaction.atomic
def merchant_update(
    *,
    merchant: Merchant,
    data: dict[str, Any],
    logo: ContentFile | None = None,
    remove_logo: bool = False,
    actor: User | None = None,
) -> Merchant:
    before = Merchant.objects.filter(pk=merchant.pk).values(*data.keys()).first() or {}
    for field, value in data.items():
        setattr(merchant, field, value)
    merchant.full_clean(exclude=["logo"])
    if remove_logo and merchant.logo:
        merchant.logo.delete(save=False)
    if logo is not None:
        if merchant.logo:
            merchant.logo.delete(save=False)
        merchant.logo.save(logo.name, logo, save=False)
    merchant.save()
    changed = sorted(field for field, value in data.items() if before.get(field) != value)
    if logo is not None or remove_logo:
        changed.append("logo")
    if changed:
        record(
            Event.SETTINGS_CHANGED,
            merchant_id=merchant.pk,
            obj=merchant,
            actor=actor,
            summary=", ".join(changed),
            data={"fields": changed},
        )
    return merchant


def invitation_create(*, merchant: Merchant, email: str, role: str, invited_by: User) -> Invitation:
    """Invite an address to the shop and queue the invitation email.

    Refuses addresses that already belong to a member or have an open invitation.
    """
    email = email.strip()
    if Membership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise ValidationError(_("%(email)s is already a member of this shop.") % {"email": email})
    with transaction.atomic():
        # An expired invitation must not block a new one.
        Invitation.objects.filter(
            merchant=merchant,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__lte=timezone.now(),
        ).update(revoked_at=timezone.now())
        already_invited = ValidationError(
            _("%(email)s has already been invited. Revoke that invitation to send a new one.")
            % {"email": email}
        )
        if Invitation.objects.pending().filter(merchant=merchant, email__iexact=email).exists():
            raise already_invited
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    merchant=merchant,
                    email=email,
                    role=role,
                    invited_by=invited_by,
                    expires_at=timezone.now() + INVITATION_VALID_FOR,
                )
        except IntegrityError:
            # A concurrent request (a double-clicked "Send") created it first.
            raise already_invited from None
        outbox_enqueue(
            kind="invitation",
            to=email,
            template="invitation",
            context={"invitation": invitation, "inviter": invited_by},
            language=merchant.default_language,
            merchant=merchant,
            ref=email_key(EmailAbout.INVITATION, invitation.pk),
            reply_to=invited_by.email,
            dedupe_key=email_key(EmailAbout.INVITATION, invitation.pk),
        )
        record(
            Event.MEMBER_INVITED,
            merchant_id=merchant.pk,
            obj=invitation,
            actor=invited_by,
            summary=f"{email} ({invitation.get_role_display()})",
        )
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User | None = None) -> None:
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise ValidationError(_("This invitation was already accepted or revoked."))
    record(
        Event.INVITATION_REVOKED,
        merchant_id=invitation.merchant_id,
        obj=invitation,
        actor=actor,
        summary=invitation.email,
    )


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Turn an open invitation into a membership for `user`, whose email must match it."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("merchant")
        .filter(token=token)
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise ValidationError(_("This invitation is no longer valid. Ask the shop for a new one."))
    if invitation.email.lower() != user.email.lower():
        raise ValidationError(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email}
        )
    membership, _created = Membership.objects.get_or_create(
        user=user, merchant=invitation.merchant, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    record(
        Event.MEMBER_JOINED,
        merchant_id=invitation.merchant_id,
        obj=membership,
        actor=user,
        summary=f"{user.email} ({membership.get_role_display()})",
    )
    return membership


def _lock_owners(merchant: Merchant) -> list[int]:
    """Lock the shop's owner memberships so two owners cannot demote each other at once."""
    return list(
        Membership.objects.select_for_update()
        .filter(merchant=merchant, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: User | None = None
) -> Membership:
    if role not in Role.values:
        raise ValidationError(_("Unknown role."))
    owners = _lock_owners(membership.merchant)
    if role != Role.OWNER and owners == [membership.pk]:
        raise ValidationError(_("A shop needs at least one owner. Make someone else owner first."))
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    if previous != role:
        record(
            Event.ROLE_CHANGED,
            merchant_id=membership.merchant_id,
            obj=membership,
            actor=actor,
            summary=f"{membership.user.email}: {Role(previous).label} → {Role(role).label}",
        )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None = None) -> None:
    owners = _lock_owners(membership.merchant)
    if owners == [membership.pk]:
        raise ValidationError(
            _("The last owner cannot leave or be removed. Make someone else owner first.")
        )
    record(
        Event.MEMBER_REMOVED,
        merchant_id=membership.merchant_id,
        obj=membership,
        actor=actor,
        summary=membership.user.email,
    )
    membership.delete()


def membership_set_preferences(*, membership: Membership, notify_payments: bool) -> Membership:
    membership.notify_payments = notify_payments
    membership.save(update_fields=["notify_payments"])
    return membership


def fiscal_profile_update(
    *, merchant: Merchant, data: dict[str, Any], actor: User | None = None
) -> FiscalProfile:
    """Save the shop's electronic invoicing settings (created on first save), audited. Raises
    ValidationError when they could not make a valid invoice (FiscalProfile.clean)."""
    profile = FiscalProfile.objects.filter(merchant=merchant).first()
    profile = profile or FiscalProfile(merchant=merchant)
    for name, value in data.items():
        setattr(profile, name, value)
    profile.full_clean(exclude=["merchant"])
    before = FiscalProfile.objects.filter(pk=profile.pk).values(*data).first() or {}
    changed = sorted(name for name in data if before.get(name) != getattr(profile, name))
    profile.save()
    if changed:
        record(
            Event.SETTINGS_CHANGED,
            merchant_id=merchant.pk,
            obj=profile,
            actor=actor,
            summary=", ".join(f"invoicing.{name}" for name in changed),
            data={"fields": [f"invoicing.{name}" for name in changed]},
        )
    return profile
