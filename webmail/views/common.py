"""What every webmail view shares: the 404 pages of a folder or message that is not there."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import render

from webmail.mailbox.session import NoSuchFolder, NoSuchMessage


def mail_errors(view):
    """NoSuchFolder and NoSuchMessage as their 404 pages."""

    @wraps(view)
    def wrapped(request, folder, *args, **kwargs):
        try:
            return view(request, folder, *args, **kwargs)
        except NoSuchFolder:
            return render(request, "webmail/no_folder.html", {"folder": folder}, status=404)
        except NoSuchMessage:
            return render(request, "webmail/message_gone.html", {"folder": folder}, status=404)

    return wrapped
