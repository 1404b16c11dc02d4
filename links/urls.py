from django.urls import path

from . import checkout, views, webhooks

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
]
