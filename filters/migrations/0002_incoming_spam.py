"""The global rule the service documents: incoming_spam (spam to Junk, flagged)."""

from pathlib import Path

from django.conf import settings
from django.db import migrations


def create(apps, schema_editor):
    GlobalRule = apps.get_model("filters", "GlobalRule")
    script = (Path(settings.BASE_DIR) / "deploy" / "sieve" / "incoming_spam.sieve").read_text()
    GlobalRule.objects.get_or_create(
        name="incoming_spam",
        defaults={
            "description": "Spam goes to the Junk folder and is flagged important.",
            "script": script,
            "offered": True,
            "included_by_default": True,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("filters", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
