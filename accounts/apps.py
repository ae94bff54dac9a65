from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Members and addresses"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import sudo, websessions  # noqa: F401  (websessions: its logout receiver)

        user_logged_in.connect(sudo.on_user_logged_in, dispatch_uid="accounts.sudo_mode")

