from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("s/<uuid:shop_id>/developers/", views.developers, name="developers"),
    path(
        "s/<uuid:shop_id>/developers/keys/<int:key_id>/revoke/",
        views.api_key_revoke,
        name="api_key_revoke",
    ),
    path("s/<uuid:shop_id>/developers/webhooks/", views.webhook_list, name="webhooks"),
    path(
        "s/<uuid:shop_id>/developers/webhooks/<int:endpoint_id>/",
        views.webhook_detail,
        name="webhook_detail",
    ),
    path(
        "s/<uuid:shop_id>/developers/webhooks/deliveries/<int:delivery_id>/redeliver/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
