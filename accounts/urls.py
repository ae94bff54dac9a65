from django.urls import path

from .views import account, app_passwords, home, login, password, security_page, signup, sudo, twofactor

urlpatterns = [
    path("", home.home, name="home"),
    path("signup/", signup.signup, name="signup"),
    path("login/", login.login_view, name="login"),
    path("login/code/", login.login_code, name="login_code"),
    path("logout/", login.LogoutView.as_view(), name="logout"),
    path("account/", account.account, name="account"),
    path("account/password/", password.password_change, name="password_change"),
    path("account/aliases/add/", account.alias_add, name="alias_add"),
    path("account/redirections/add/", account.redirection_add, name="redirection_add"),
    path("account/redirections/<int:address_id>/", account.redirection_edit, name="redirection_edit"),
    path("account/addresses/<int:address_id>/remove/", account.address_remove, name="address_remove"),
    path("account/quota/request/", account.quota_request, name="quota_request"),
    path("account/confirm/", sudo.sudo, name="sudo"),
    path("account/security/", security_page.security_page, name="security"),
    path("account/security/2fa/setup/", twofactor.two_factor_setup, name="two_factor_setup"),
    path("account/security/2fa/check/", twofactor.two_factor_check, name="two_factor_check"),
    path("account/security/2fa/recovery-codes/", twofactor.two_factor_recovery_codes, name="two_factor_recovery_codes"),
    path("account/security/2fa/save/", twofactor.two_factor_save, name="two_factor_save"),
    path("account/security/2fa/cancel/", twofactor.two_factor_cancel, name="two_factor_cancel"),
    path("account/security/2fa/disable/", twofactor.two_factor_disable, name="two_factor_disable"),
    path("account/security/2fa/new-recovery-codes/", twofactor.two_factor_regenerate, name="two_factor_regenerate"),
    path("account/security/app-passwords/", security_page.app_passwords_page, name="app_passwords"),
    path("account/security/app-passwords/new/", app_passwords.app_password_create, name="app_password_create"),
    path("account/security/app-passwords/<int:token_id>/revoke/", app_passwords.app_password_revoke,
         name="app_password_revoke"),
]
