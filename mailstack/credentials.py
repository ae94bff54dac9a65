"""The workers' Dovecot master user: its secret and its login name.

Only accounts.mailaccess logs in with it (for workers); the generated configuration
holds only a salted hash of the secret (mailstack.config).
"""

import hashlib
import hmac

from django.conf import settings


def master_password() -> str:
    """From the environment, else derived from SECRET_KEY. Never shown anywhere."""
    if settings.DOVECOT_MASTER_PASSWORD:
        return settings.DOVECOT_MASTER_PASSWORD
    return hmac.new(settings.SECRET_KEY.encode(), b"duckmail dovecot master user", hashlib.sha256).hexdigest()


def master_login(email: str) -> str:
    """The login that makes Dovecot act as `email` through the master user
    (`auth_master_user_separator = *` in the generated dovecot.conf)."""
    return f"{email}*{settings.DOVECOT_MASTER_USER}"


def auth_policy_secret() -> str:
    """The key Dovecot sends to our auth policy server (accounts.authpolicy) with every
    question, from the environment or derived from SECRET_KEY: nothing else on the host
    may unlock accounts by answering "allow" in its place or feed it fake failures."""
    if settings.AUTH_POLICY_SECRET:
        return settings.AUTH_POLICY_SECRET
    return hmac.new(settings.SECRET_KEY.encode(), b"duckmail dovecot auth policy", hashlib.sha256).hexdigest()


AUTH_POLICY_HEADER = "X-DuckMail-Policy-Key"
