from django.urls import path

from .views import (
    back_office,
    back_office_payments,
    phone_orders,
    provider_webhooks,
    public_checkout,
)

app_name = "links"

urlpatterns = [
    path("s/<uuid:shop_id>/", back_office.dashboard, name="dashboard"),
    path(
        "s/<uuid:shop_id>/settings/payments/",
        back_office.payment_account,
        name="payment_account",
    ),
    path("s/<uuid:shop_id>/links/", back_office.link_list, name="list"),
    path("s/<uuid:shop_id>/links/new/", back_office.link_create, name="create"),
    path("s/<uuid:shop_id>/links/<int:link_id>/", back_office.link_detail, name="detail"),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/deactivate/",
        back_office.link_deactivate,
        name="deactivate",
    ),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/qr.png",
        back_office.link_qr,
        {"fmt": "png"},
        name="qr_png",
    ),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/qr.svg",
        back_office.link_qr,
        {"fmt": "svg"},
        name="qr_svg",
    ),
    path("s/<uuid:shop_id>/links/<int:link_id>/card/", back_office.link_card, name="card"),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/",
        back_office.payment_detail,
        name="payment_detail",
    ),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/refund/",
        back_office.payment_refund,
        name="payment_refund",
    ),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/capture/",
        back_office.payment_capture,
        name="payment_capture",
    ),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/release/",
        back_office.payment_release,
        name="payment_release",
    ),
    path("s/<uuid:shop_id>/links/<int:link_id>/status/", phone_orders.link_status, name="status"),
    path("s/<uuid:shop_id>/phone/", phone_orders.phone_order_new, name="phone_order_new"),
    path("s/<uuid:shop_id>/phone/<int:link_id>/", phone_orders.phone_order, name="phone_order"),
    path("s/<uuid:shop_id>/terminal/", phone_orders.terminal_new, name="terminal_new"),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/", phone_orders.terminal_pay, name="terminal_pay"
    ),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/setup/",
        phone_orders.terminal_setup,
        name="terminal_setup",
    ),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/attempts/",
        phone_orders.terminal_attempt,
        name="terminal_attempt",
    ),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/attempts/<uuid:payment_id>/complete/",
        phone_orders.terminal_complete,
        name="terminal_complete",
    ),
    path("pay/<str:token>/", public_checkout.checkout, name="checkout"),
    path("pay/<str:token>/setup/", public_checkout.setup, name="setup"),
    path("pay/<str:token>/attempts/", public_checkout.attempt, name="attempt"),
    path("pay/<str:token>/invoice/", public_checkout.invoice_check, name="invoice_check"),
    path(
        "pay/<str:token>/attempts/<uuid:payment_id>/complete/",
        public_checkout.attempt_complete,
        name="attempt_complete",
    ),
    path("pay/<str:token>/result/<uuid:payment_id>/", public_checkout.result, name="result"),
    path(
        "pay/<str:token>/return/<uuid:payment_id>/",
        public_checkout.attempt_return,
        name="attempt_return",
    ),
    path("stripe/webhook/", provider_webhooks.stripe_webhook, name="stripe_webhook"),
    path(
        "stripe/webhook/<uuid:shop_id>/",
        provider_webhooks.stripe_webhook,
        name="stripe_webhook_shop",
    ),
    path("s/<uuid:shop_id>/payments/", back_office_payments.payment_list, name="payments"),
    path(
        "s/<uuid:shop_id>/payments/payments.csv",
        back_office_payments.payment_csv,
        name="payments_csv",
    ),
]
