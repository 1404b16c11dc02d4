from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from . import email_views, views

# The admin signs in through allauth's login, never its own password-only form: two-factor
# authentication and the login rate limits apply to operators as to everyone else.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("integrations.api.urls")),
    # JSON, also with DEBUG (no debug page under /api/)
    re_path(r"^api/", views.page_not_found, name="api_not_found"),
    path("dev/outbox/", email_views.dev_outbox, name="dev_outbox"),
    path("dev/outbox/<int:email_id>/", email_views.dev_outbox_detail, name="dev_outbox_detail"),
    path("dev/outbox/<int:email_id>/html/", email_views.dev_outbox_html, name="dev_outbox_html"),
    path("", include("merchants.urls")),
    path("", include("links.urls")),
    path("", include("receipts.urls")),
    path("", include("integrations.urls")),
]

# JSON under /api/, the usual pages elsewhere.
handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

if settings.MEDIA_URL.startswith("/"):
    # Only with DEBUG or SERVE_MEDIA (the view says 404 otherwise), with safe content types.
    urlpatterns.append(
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", views.media, name="media")
    )
