from django.urls import path

from . import checkout, moto, payments, views, webhooks

app_name = "links"

urlpatterns = [
    path("s/<uuid:shop_id>/links/", views.link_list, name="list"),
    path("s/<uuid:shop_id>/links/new/", views.link_create, name="create"),
    path("s/<uuid:shop_id>/links/<int:link_id>/", views.link_detail, name="detail"),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/deactivate/", views.link_deactivate, name="deactivate"
    ),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/qr.png", views.link_qr, {"fmt": "png"}, name="qr_png"
    ),
    path(
        "s/<uuid:shop_id>/links/<int:link_id>/qr.svg", views.link_qr, {"fmt": "svg"}, name="qr_svg"
    ),
    path("s/<uuid:shop_id>/links/<int:link_id>/card/", views.link_card, name="card"),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/", views.payment_detail, name="payment_detail"
    ),
    path(
        "s/<uuid:shop_id>/payments/<uuid:payment_id>/refund/",
        views.payment_refund,
        name="payment_refund",
    ),
    path("s/<uuid:shop_id>/links/<int:link_id>/status/", moto.link_status, name="status"),
    path("s/<uuid:shop_id>/phone/", moto.phone_order_new, name="phone_order_new"),
    path("s/<uuid:shop_id>/phone/<int:link_id>/", moto.phone_order, name="phone_order"),
    path("s/<uuid:shop_id>/terminal/", moto.terminal_new, name="terminal_new"),
    path("s/<uuid:shop_id>/terminal/<int:link_id>/", moto.terminal_pay, name="terminal_pay"),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/setup/", moto.terminal_setup, name="terminal_setup"
    ),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/attempts/",
        moto.terminal_attempt,
        name="terminal_attempt",
    ),
    path(
        "s/<uuid:shop_id>/terminal/<int:link_id>/attempts/<uuid:payment_id>/complete/",
        moto.terminal_complete,
        name="terminal_complete",
    ),
    path("pay/<str:token>/", checkout.checkout, name="checkout"),
    path("pay/<str:token>/setup/", checkout.setup, name="setup"),
    path("pay/<str:token>/attempts/", checkout.attempt, name="attempt"),
    path(
        "pay/<str:token>/attempts/<uuid:payment_id>/complete/",
        checkout.attempt_complete,
        name="attempt_complete",
    ),
    path("pay/<str:token>/result/<uuid:payment_id>/", checkout.result, name="result"),
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("stripe/webhook/<uuid:shop_id>/", webhooks.stripe_webhook, name="stripe_webhook_shop"),
    path("s/<uuid:shop_id>/payments/", payments.payment_list, name="payments"),
    path("s/<uuid:shop_id>/payments/payments.csv", payments.payment_csv, name="payments_csv"),
]
