"""Only the roles that are granted it may call mail_token_login().

It is SECURITY DEFINER (it stamps last use with its owner's rights), so by PostgreSQL's
default any role could call it and test app-password guesses directly in the database.
The mail role gets `GRANT EXECUTE` explicitly (docs/production.md); the owner keeps it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_member_security_stamp")]

    operations = [
        migrations.RunSQL(
            "REVOKE EXECUTE ON FUNCTION mail_token_login(text, text) FROM PUBLIC;",
            "GRANT EXECUTE ON FUNCTION mail_token_login(text, text) TO PUBLIC;",
        )
    ]
