"""State changes for Sieve filters, by subject: `editor` (the form editor's rules, spam
threshold and automatic reply), `scripts` (hand-written scripts), `global_rules` (the
admins' global rules). Views and the admin call these; these call accounts.mailaccess."""
