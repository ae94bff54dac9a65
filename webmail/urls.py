"""The webmail's deep links (see webmail.names for how a folder name is written in a URL).

    /mail/                                   → the Inbox
    /mail/<folder>/?sort=…&order=…&page=…    the folder's list
    /mail/<folder>/<uid>/                    a message (?headers=all, ?view=text)
    /mail/<folder>/<uid>/body/               the sanitised HTML, the iframe's document (?remote=1)
    /mail/<folder>/<uid>/part/<section>/     an attachment by body section (?inline=1: raster preview)
    /mail/<folder>/<uid>/source/             the raw message (.eml)
    /mail/cid/<token>/                       an inline image of the iframe (signed, no session)
"""

from django.urls import path, register_converter

from . import names
from .views import listing, reading

register_converter(names.FolderConverter, "folder")
register_converter(names.UidConverter, "uid")
register_converter(names.SectionConverter, "section")
register_converter(names.CidTokenConverter, "cidtoken")

app_name = "webmail"

urlpatterns = [
    path("", listing.index, name="index"),
    path("cid/<cidtoken:token>/", reading.cid_image, name="cid"),
    # -- folders (webmail.views.folders) --
    # -- actions (webmail.views.actions) --
    # -- search (webmail.views.search) --
    # -- settings (webmail.views.preferences) --
    path("<folder:folder>/", listing.folder, name="folder"),
    path("<folder:folder>/<uid:uid>/", reading.message, name="message"),
    path("<folder:folder>/<uid:uid>/body/", reading.body, name="body"),
    path("<folder:folder>/<uid:uid>/part/<section:section>/", reading.part, name="part"),
    path("<folder:folder>/<uid:uid>/source/", reading.source, name="source"),
]
