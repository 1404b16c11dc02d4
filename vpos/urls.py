from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from merchants import views as merchant_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dev/outbox/", merchant_views.dev_outbox, name="dev_outbox"),
    path("dev/outbox/<int:email_id>/", merchant_views.dev_outbox_detail, name="dev_outbox_detail"),
    path("dev/outbox/<int:email_id>/html/", merchant_views.dev_outbox_html, name="dev_outbox_html"),
    path("", include("merchants.urls")),
    path("", include("links.urls")),
    path("", include("receipts.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
