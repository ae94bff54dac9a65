"""Template tags for the rule editor page."""

from django import template
from django.utils.html import json_script

from filters.forms import rule_editor_vocabulary

register = template.Library()


@register.simple_tag
def rule_editor_vocabulary_json() -> str:
    """The vocabulary as `<script id="rule-vocabulary" type="application/json">`, which
    static/js/filters.js reads."""
    return json_script(rule_editor_vocabulary(), "rule-vocabulary")
