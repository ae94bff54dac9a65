"""The webmail's IMAP work, as the logged-in member, on the web session's kept connection.

- :mod:`.session`: the kept connection with what it remembers between requests (the
  selected folder, the sorted-UID lists), and the mapping of IMAP failures to what a page
  says (no such folder → 404, no such message → 404, anything broken → the 503 page).
- :mod:`.folders`: the folder tree (LIST-STATUS) and the quota.
- :mod:`.listing`: one page of a folder, sorted on the server (SORT, cached).
- :mod:`.reading`: one message's raw bytes (and marking it read).

Nothing typed by a member reaches an IMAP command without passing :mod:`webmail.names`
first; imapclient quotes what does.
"""
