"""SQL views that Dovecot and Postfix read.

The generated mail-server configs (duckmail/lib/mailconfig.py) query only these views,
never the Django tables, so their queries stay one line long and the tables can change
under them: a later migration that changes the tables recreates the views.
"""

from django.db import migrations

CREATE = r"""
CREATE VIEW mail_users AS
SELECT m.email AS username,
       CASE WHEN m.password LIKE 'argon2$argon2id$%'
            THEN '{ARGON2ID}' || substr(m.password, strpos(m.password, '$')) END AS password,
       (m.is_active AND d.is_active) AS enabled,
       m.quota_mb
  FROM accounts_member m
  JOIN accounts_address a ON a.owner_id = m.id AND a.kind = 'mailbox'
  JOIN accounts_domain d ON d.id = a.domain_id;

CREATE VIEW mail_domains AS
SELECT name AS domain FROM accounts_domain WHERE is_active;

CREATE VIEW mail_addresses AS
SELECT a.id, a.local_part || '@' || d.name AS address, a.kind, a.keep_copy, m.email AS owner
  FROM accounts_address a
  JOIN accounts_domain d ON d.id = a.domain_id
  JOIN accounts_member m ON m.id = a.owner_id
 WHERE d.is_active AND m.is_active;

CREATE VIEW mail_mailboxes AS
SELECT address, split_part(address, '@', 2) || '/' || split_part(address, '@', 1) || '/' AS maildir
  FROM mail_addresses WHERE kind = 'mailbox';

CREATE VIEW mail_aliases AS
SELECT address, owner AS destination FROM mail_addresses WHERE kind IN ('mailbox', 'alias')
UNION ALL
SELECT address, owner FROM mail_addresses WHERE kind = 'redirection' AND keep_copy
UNION ALL
SELECT ma.address, t.target
  FROM mail_addresses ma JOIN accounts_redirectiontarget t ON t.address_id = ma.id
 WHERE ma.kind = 'redirection';

CREATE VIEW mail_sender_logins AS
SELECT address, owner AS login FROM mail_addresses;
"""

DROP = """
DROP VIEW IF EXISTS mail_sender_logins;
DROP VIEW IF EXISTS mail_aliases;
DROP VIEW IF EXISTS mail_mailboxes;
DROP VIEW IF EXISTS mail_addresses;
DROP VIEW IF EXISTS mail_domains;
DROP VIEW IF EXISTS mail_users;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
