from django.urls import path

from . import views

app_name = "filters"

urlpatterns = [
    path("", views.index, name="index"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/move/<str:direction>/", views.rule_move, name="rule_move"),
    path("options/", views.options, name="options"),
    path("vacation/", views.vacation, name="vacation"),
    path("import/", views.editor_import, name="editor_import"),
    path("scripts/new/", views.script_edit, name="script_new"),
    path("scripts/close/", views.script_close, name="script_close"),
    path("scripts/upload/", views.script_upload, name="script_upload"),
    path("scripts/activate/", views.script_activate, name="script_activate"),
    path("scripts/<str:name>/", views.script_edit, name="script_edit"),
    path("scripts/<str:name>/download/", views.script_download, name="script_download"),
    path("scripts/<str:name>/delete/", views.script_delete, name="script_delete"),
    path("scripts/<str:name>/open/", views.script_open, name="script_open"),
]
