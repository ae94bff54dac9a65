"""The webmail pages, one module per area: listing, reading (with downloads and cid images),
and the modules of the actions that change the mailbox.

Thin views: the URL converters (webmail.names) have checked folder, UID and section, a
form checks the query, one call into webmail.services does the IMAP work as the logged-in
member. A folder or message that is not there (or not this member's: the IMAP login is
theirs) is a 404 page; Dovecot down is the site's 503 page (duckmail.middleware).
"""
