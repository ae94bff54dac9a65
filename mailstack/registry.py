"""What other apps hand to the mail servers' configuration, registered at start-up.

An app that needs something installed with the mail servers registers a provider in its
AppConfig.ready(); the generator calls the providers, so mailstack depends on no app's
models. Today: global Sieve scripts (filters' admin-edited global rules).
"""

from collections.abc import Callable, Iterable

GlobalSieveProvider = Callable[[], Iterable[tuple[str, str]]]

_global_sieve_providers: list[GlobalSieveProvider] = []


def register_global_sieve(provider: GlobalSieveProvider) -> None:
    """`provider()` returns (name, script) pairs to install in Dovecot's global Sieve directory."""
    if provider not in _global_sieve_providers:
        _global_sieve_providers.append(provider)


def global_sieve_providers() -> list[GlobalSieveProvider]:
    return list(_global_sieve_providers)
