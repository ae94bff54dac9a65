from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="account"), name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/aliases/add/", views.alias_add, name="alias_add"),
    path("account/redirections/add/", views.redirection_add, name="redirection_add"),
    path("account/redirections/<int:address_id>/", views.redirection_edit, name="redirection_edit"),
    path("account/addresses/<int:address_id>/remove/", views.address_remove, name="address_remove"),
    path("account/quota/request/", views.quota_request, name="quota_request"),
]
