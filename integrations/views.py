"""Owner pages for the integration API: API keys and outbound webhook endpoints."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from merchants.access import shop_view
from merchants.models import Membership

from . import webhooks
from .api_keys import api_key_create
from .api_keys import api_key_revoke as revoke_key
from .models import ApiKey, WebhookDelivery, WebhookEndpoint


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("Where the key is used, e.g. 'Online shop'."),
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("Permissions"),
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ_WRITE,
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("Endpoint URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=list(webhooks.EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=list(webhooks.EVENTS),
    )


def _endpoint_for(membership: Membership, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id, merchant=membership.merchant)


@shop_view(owner_only=True)
def developers(request: HttpRequest, membership: Membership) -> HttpResponse:
    """API keys: the list, and a form whose answer shows the new key once."""
    merchant = membership.merchant
    form = ApiKeyForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        try:
            _key, new_key = api_key_create(
                merchant=merchant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            form = ApiKeyForm()
    response = render(
        request,
        "integrations/developers/api_keys.html",
        {
            "form": form,
            "new_key": new_key,
            "keys": merchant.api_keys.all(),
            "docs_url": reverse("api:docs"),
            "api_base": request.build_absolute_uri("/api/v1/"),
        },
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may carry a secret
    return response


@require_POST
@shop_view(owner_only=True)
def api_key_revoke(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id, merchant=membership.merchant)
    revoke_key(api_key=api_key, actor=request.user)
    messages.success(request, _("The key %(name)s was revoked.") % {"name": api_key.name})
    return redirect("integrations:developers", shop_id=membership.merchant.public_id)


@shop_view(owner_only=True)
def webhook_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    merchant = membership.merchant
    form = WebhookEndpointForm(request.POST or None)
    new_secret = ""
    if request.method == "POST" and form.is_valid():
        try:
            _endpoint, new_secret = webhooks.webhook_endpoint_create(
                merchant=merchant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error("url" if error.code in ("url", "private_url") else None, error)
        else:
            form = WebhookEndpointForm()
    response = render(
        request,
        "integrations/developers/webhooks.html",
        {"form": form, "new_secret": new_secret, "endpoints": merchant.webhook_endpoints.all()},
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@shop_view(owner_only=True)
def webhook_detail(request: HttpRequest, membership: Membership, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_for(membership, endpoint_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            webhooks.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
            messages.success(request, _("Webhook endpoint removed."))
            return redirect("integrations:webhooks", shop_id=membership.merchant.public_id)
        if action == "enable":
            webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=request.user)
            messages.success(request, _("Webhook endpoint enabled."))
        return redirect(
            "integrations:webhook_detail",
            shop_id=membership.merchant.public_id,
            endpoint_id=endpoint.pk,
        )
    deliveries = endpoint.deliveries.all()[:100]
    return render(
        request,
        "integrations/developers/webhook_detail.html",
        {"endpoint": endpoint, "deliveries": deliveries},
    )


@require_POST
@shop_view(owner_only=True)
def webhook_redeliver(
    request: HttpRequest, membership: Membership, delivery_id: int
) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint"),
        pk=delivery_id,
        endpoint__merchant=membership.merchant,
    )
    try:
        webhooks.webhook_redeliver(delivery=delivery)
    except webhooks.EventExpired:
        messages.error(
            request,
            _(
                "This event is older than %(days)s days: its content was removed (data "
                "retention) and it cannot be sent again."
            )
            % {"days": settings.RETENTION_WEBHOOK_PAYLOAD_DAYS},
        )
    else:
        messages.success(request, _("The event will be sent again in a moment."))
    return redirect(
        "integrations:webhook_detail",
        shop_id=membership.merchant.public_id,
        endpoint_id=delivery.endpoint_id,
    )
