from django.apps import AppConfig


class AntispamConfig(AppConfig):
    name = "antispam"
