"""Mail views for account security: 2FA shuts the main password out of the mail protocols,
and app passwords (MailToken rows) get their own fast Dovecot passdb.

The SQL is copied here on purpose (never imported from app code): a migration must keep
meaning what it meant when it was written.

- `mail_users` gains `two_factor`; its `password` is NULL for a member with 2FA on. Dovecot
  treats a NULL password as a mismatch for a normal login (so IMAP/POP3/ManageSieve/SMTP
  refuse the main password, and never reveal whether it was right), but as fine for a
  master-user login (`skip_password_check`), so workers still reach 2FA members' mailboxes.
- `mail_tokens`: the tokens Dovecot may accept (not expired), with the member's state.
- `mail_token_login(login, secret)`: the token passdb's query. It finds the token by the
  SHA-256 of the secret and, in the same statement, stamps `last_used_at`. Dovecot passdbs
  can not write, and a post-login script would run for every session without knowing which
  token was used; a data-modifying CTE does it exactly when a token matched. The stamp is
  written at most once a minute per token, so clients that open many connections do not
  turn logins into a stream of row updates. SECURITY DEFINER lets a read-only mail role
  (production) call it without UPDATE rights on the table; the search_path is pinned.
  The secret is normalised (lower case, spaces removed) the same way as
  accounts.security.token_hash, so "abcd efgh ijkl mnop" and "abcdefghijklmnop" both work.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE VIEW mail_users AS
SELECT m.email AS username,
       CASE WHEN NOT tf.two_factor AND m.password LIKE 'argon2$argon2id$%'
            THEN '{ARGON2ID}' || substr(m.password, strpos(m.password, '$')) END AS password,
       (m.is_active AND d.is_active) AS enabled,
       m.quota_mb,
       tf.two_factor
  FROM accounts_member m
  JOIN accounts_address a ON a.owner_id = m.id AND a.kind = 'mailbox'
  JOIN accounts_domain d ON d.id = a.domain_id
  CROSS JOIN LATERAL (
      SELECT EXISTS (SELECT 1 FROM otp_totp_totpdevice t WHERE t.user_id = m.id AND t.confirmed) AS two_factor
  ) tf;

CREATE VIEW mail_tokens AS
SELECT t.id, u.username, t.kind, t.token_hash, NULLIF(t.allow_nets, '') AS allow_nets, u.enabled,
       t.last_used_at
  FROM accounts_mailtoken t
  JOIN accounts_member m ON m.id = t.member_id
  JOIN mail_users u ON u.username = m.email
 WHERE t.expires_at IS NULL OR t.expires_at > now();

CREATE FUNCTION mail_token_login(login text, secret text)
RETURNS TABLE (token_user text, token_kind text, token_nets text, token_enabled boolean)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT
AS $fn$
  WITH hit AS (
    SELECT id, username, kind, allow_nets, enabled FROM mail_tokens
     WHERE username = login
       AND token_hash = encode(sha256(convert_to(lower(replace(secret, ' ', '')), 'UTF8')), 'hex')
  ), touched AS (
    UPDATE accounts_mailtoken SET last_used_at = now()
     WHERE id IN (SELECT id FROM hit WHERE enabled)
       AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
  )
  SELECT username::text, kind::text, allow_nets::text, enabled FROM hit
$fn$;
"""

DROP = r"""
DROP FUNCTION IF EXISTS mail_token_login(text, text);
DROP VIEW IF EXISTS mail_tokens;
DROP VIEW IF EXISTS mail_users;
CREATE VIEW mail_users AS
SELECT m.email AS username,
       CASE WHEN m.password LIKE 'argon2$argon2id$%'
            THEN '{ARGON2ID}' || substr(m.password, strpos(m.password, '$')) END AS password,
       (m.is_active AND d.is_active) AS enabled,
       m.quota_mb
  FROM accounts_member m
  JOIN accounts_address a ON a.owner_id = m.id AND a.kind = 'mailbox'
  JOIN accounts_domain d ON d.id = a.domain_id;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_mailtoken"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
