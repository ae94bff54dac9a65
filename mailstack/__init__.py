"""The mail servers' configuration: Dovecot and Postfix generated from the database's
settings (`config`, `manage.py gen_mailconfig`), `doveadm` calls (`doveadm`), the workers'
master-user secret (`credentials`) and Dovecot's global Sieve directory (`globalsieve`).

Other apps do not write mail-server files themselves: they register what they need here
(`registry`), and the generator installs it.
"""
