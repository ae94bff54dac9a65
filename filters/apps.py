from django.apps import AppConfig


class FiltersConfig(AppConfig):
    name = "filters"

    def ready(self) -> None:
        from mailstack import registry

        from .services.global_rules import global_rule_scripts

        # Admins' global rules are installed whenever the mail configuration is generated.
        registry.register_global_sieve(global_rule_scripts)
