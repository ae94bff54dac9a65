from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="account"), name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/aliases/add/", views.alias_add, name="alias_add"),
    path("account/redirections/add/", views.redirection_add, name="redirection_add"),
    path("account/redirections/<int:address_id>/", views.redirection_edit, name="redirection_edit"),
    path("account/addresses/<int:address_id>/remove/", views.address_remove, name="address_remove"),
    path("account/quota/request/", views.quota_request, name="quota_request"),
    path("account/confirm/", views.sudo, name="sudo"),
    path("account/security/", views.security_page, name="security"),
    path("account/security/2fa/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("account/security/2fa/check/", views.two_factor_check, name="two_factor_check"),
    path("account/security/2fa/recovery-codes/", views.two_factor_recovery_codes, name="two_factor_recovery_codes"),
    path("account/security/2fa/save/", views.two_factor_save, name="two_factor_save"),
    path("account/security/2fa/cancel/", views.two_factor_cancel, name="two_factor_cancel"),
    path("account/security/2fa/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("account/security/2fa/new-recovery-codes/", views.two_factor_regenerate, name="two_factor_regenerate"),
    path("account/security/app-passwords/", views.app_password_create, name="app_password_create"),
    path("account/security/app-passwords/<int:token_id>/revoke/", views.app_password_revoke,
         name="app_password_revoke"),
]
