"""The documented read-only role (docs/production.md) is all Dovecot and Postfix need."""

import hashlib
import subprocess

import psycopg
import pytest
from django.db import connection

from accounts import app_passwords, services
from mailstack import config as mailconfig

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "duckmail_mail_test"
GRANTS = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} LOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA public TO {ROLE};
GRANT SELECT ON mail_users, mail_domains, mail_addresses, mail_mailboxes, mail_aliases, mail_sender_logins TO {ROLE};
GRANT EXECUTE ON FUNCTION mail_token_login(text, text) TO {ROLE};
"""


def as_role(sql: str):
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=ROLE, dbname=db["NAME"]) as conn:
        return conn.execute(sql).fetchall()


def test_the_mail_role_reads_the_views_and_nothing_else(alice, settings):
    with connection.cursor() as cursor:
        cursor.execute(GRANTS)
    services.add_alias(alice, "ally")
    _token, secret = app_passwords.create_app_password(alice, "Phone")

    settings.MAIL_DB_USER = ROLE
    settings.MAIL_DB_PASSWORD = ""
    import os
    import tempfile

    out = tempfile.mkdtemp(prefix="duckmail-role-", dir="/tmp")
    os.chmod(out, 0o755)
    try:
        mailconfig.generate(out, variant="test")
        result = subprocess.run(
            ["postmap", "-c", f"{out}/postfix", "-q", "ally@duckmail.test", f"pgsql:{out}/postfix/virtual_aliases.cf"],
            capture_output=True, text=True)
        assert result.stdout.strip() == "alice@duckmail.test", result.stderr
        assert f"user = {ROLE}" in open(f"{out}/postfix/virtual_aliases.cf").read()
        assert f"user='{ROLE}'" in open(f"{out}/dovecot/dovecot-sql.conf.ext").read()
    finally:
        subprocess.run(["rm", "-rf", out])

    assert as_role("SELECT username FROM mail_users") == [("alice@duckmail.test",)]
    # Dovecot passes the SHA-256 of what the client typed (migration 0007), never the secret.
    secret_sha256 = hashlib.sha256(secret.encode()).hexdigest()
    assert as_role(f"SELECT token_user FROM mail_token_login('alice@duckmail.test', '{secret_sha256}')") == [
        ("alice@duckmail.test",)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role("SELECT password FROM accounts_member")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role("SELECT token_hash FROM accounts_mailtoken")
