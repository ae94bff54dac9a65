from django.apps import AppConfig


class WebmailConfig(AppConfig):
    name = "webmail"
