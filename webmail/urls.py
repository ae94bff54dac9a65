"""The webmail's deep links (see webmail.names for how a folder name is written in a URL;
the bare segment "-" is never a folder and holds the webmail's own pages).

    /mail/                                      → the Inbox (or its conversations)
    /mail/<folder>/?sort=…&order=…&page=…       the folder's list (&view=messages: not as conversations)
    /mail/<folder>/conversations/?sort=…&page=… the list as threads (THREAD=REFERENCES)
    /mail/<folder>/search/?q=…                  search (from, to, subject, body, since, before, unread,
                                                flagged, answered, larger, smaller, unit, scope=folder|all)
    /mail/<folder>/actions/        POST         read, unread, flag, unflag, move, copy, delete, archive,
                                                spam, notspam (uid=…, all=1, target=…, next=…)
    /mail/<folder>/undo/           POST         undo the last move (a signed token)
    /mail/<folder>/poll/                        new mail since ?uidnext= (a fragment; the sidebar)
    /mail/<folder>/<uid>/                       a message (?headers=all, ?view=text)
    /mail/<folder>/<uid>/body/                  the sanitised HTML, the iframe's document (?remote=1)
    /mail/<folder>/<uid>/part/<section>/        an attachment by body section (?inline=1: raster preview)
    /mail/<folder>/<uid>/attachments.zip        every attachment in one zip
    /mail/<folder>/<uid>/attached/<section>/    a message attached to it (…/body/, …/attachments.zip)
    /mail/<folder>/<uid>/source/                the raw message (.eml)
    /mail/<folder>/<uid>/seen/     POST         mark it read; …/trust-sender/ POST: remote content always
    /mail/cid/<token>/                          an inline image of the iframe (signed, no session)
    /mail/-/folders/                            manage folders (…/<folder>/, rename/, subscription/,
                                                delete/, empty/; -/new-folder/, -/show-folders/)
    /mail/-/settings/                           the member's webmail settings
"""

from django.urls import path, register_converter

from . import names
from .views import actions, folders, listing, preferences, reading, search

register_converter(names.FolderConverter, "folder")
register_converter(names.UidConverter, "uid")
register_converter(names.SectionConverter, "section")
register_converter(names.CidTokenConverter, "cidtoken")

app_name = "webmail"

urlpatterns = [
    path("", listing.index, name="index"),
    path("cid/<cidtoken:token>/", reading.cid_image, name="cid"),
    # -- folders (webmail.views.folders) --
    # Under "-/", never a folder (webmail.names). No fixed word follows "-/folders/", so a
    # folder of any name ("new", …) has its page there.
    path("-/folders/", folders.manage, name="folders"),
    path("-/new-folder/", folders.create, name="folder_create"),
    path("-/show-folders/", folders.show_folders, name="folders_shown"),
    path("-/folders/<folder:folder>/", folders.edit, name="folder_edit"),
    path("-/folders/<folder:folder>/rename/", folders.rename, name="folder_rename"),
    path("-/folders/<folder:folder>/subscription/", folders.subscription, name="folder_subscription"),
    path("-/folders/<folder:folder>/delete/", folders.delete, name="folder_delete"),
    path("-/folders/<folder:folder>/empty/", folders.empty, name="folder_empty"),
    # -- actions (webmail.views.actions) --
    path("<folder:folder>/actions/", actions.act, name="actions"),
    path("<folder:folder>/undo/", actions.undo, name="undo"),
    path("<folder:folder>/poll/", actions.poll, name="poll"),
    # -- search (webmail.views.search) --
    path("<folder:folder>/search/", search.search, name="search"),
    path("<folder:folder>/conversations/", search.conversations, name="conversations"),
    # -- settings (webmail.views.preferences) --
    # "-" then a word: no folder URL has that (a UID is digits), see webmail.views.preferences.
    path("-/settings/", preferences.settings_page, name="settings"),
    path("-/settings/trusted-senders/remove/", preferences.distrust_sender, name="distrust_sender"),
    # the reading view's own URLs below a message (and an attached message's, by its section)
    path("<folder:folder>/<uid:uid>/attachments.zip", reading.attachments_zip, name="zip"),
    path("<folder:folder>/<uid:uid>/seen/", reading.mark_seen, name="seen"),
    path("<folder:folder>/<uid:uid>/trust-sender/", reading.trust_sender, name="trust_sender"),
    path("<folder:folder>/<uid:uid>/attached/<section:section>/", reading.attached, name="attached"),
    path("<folder:folder>/<uid:uid>/attached/<section:section>/body/", reading.attached_body, name="attached_body"),
    path("<folder:folder>/<uid:uid>/attached/<section:section>/attachments.zip", reading.attached_zip,
         name="attached_zip"),
    path("<folder:folder>/", listing.folder, name="folder"),
    path("<folder:folder>/<uid:uid>/", reading.message, name="message"),
    path("<folder:folder>/<uid:uid>/body/", reading.body, name="body"),
    path("<folder:folder>/<uid:uid>/part/<section:section>/", reading.part, name="part"),
    path("<folder:folder>/<uid:uid>/source/", reading.source, name="source"),
]
