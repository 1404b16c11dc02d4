from django.urls import path

from . import views

app_name = "merchants"

urlpatterns = [
    path("shops/", views.shops_home, name="home"),
    path("shops/new/", views.onboarding, name="onboarding"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("s/<uuid:shop_id>/two-factor/", views.totp_required, name="totp_required"),
    path("s/<uuid:shop_id>/settings/", views.shop_settings, name="settings"),
    path("s/<uuid:shop_id>/settings/invoicing/", views.fiscal_profile, name="fiscal_profile"),
    path("s/<uuid:shop_id>/team/", views.team, name="team"),
    path(
        "s/<uuid:shop_id>/team/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "s/<uuid:shop_id>/team/members/<int:member_id>/role/", views.member_role, name="member_role"
    ),
    path(
        "s/<uuid:shop_id>/team/members/<int:member_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("s/<uuid:shop_id>/me/", views.preferences, name="preferences"),
    path("s/<uuid:shop_id>/me/leave/", views.leave, name="leave"),
    path("s/<uuid:shop_id>/emails/", views.emails, name="emails"),
    path("s/<uuid:shop_id>/audit/", views.audit_log, name="audit"),
    path("s/<uuid:shop_id>/emails/<int:email_id>/", views.email_detail, name="email_detail"),
    path("s/<uuid:shop_id>/emails/<int:email_id>/html/", views.email_html, name="email_html"),
    path(
        "s/<uuid:shop_id>/emails/<int:email_id>/resend/",
        views.email_resend,
        name="email_resend",
    ),
]
