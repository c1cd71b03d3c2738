from django.urls import path

from . import audit_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/code/", views.login_verify, name="login_verify"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("two-factor/", views.two_factor_settings, name="two_factor"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path(
        "password-reset/confirm/",
        views.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    path("privacy/", views.privacy_notice, name="privacy"),
    path("privacy/<str:version>/", views.privacy_notice, name="privacy_version"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/download.<str:fmt>", views.my_data_download, name="my_data_download"),
    path("audit/", audit_views.audit_log, name="audit"),
]
