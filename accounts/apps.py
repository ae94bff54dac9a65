from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Members and addresses"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # Imported for their receivers: mailaccess binds every Celery task to the workers'
        # principal, websessions revokes a session's mail token at logout.
        from . import mailaccess, sudo, websessions  # noqa: F401

        user_logged_in.connect(sudo.on_user_logged_in, dispatch_uid="accounts.sudo_mode")

