# The Domain model moves here from accounts. State only: the table stays
# accounts_domain (the mail servers' SQL views name it), with its data, constraints and
# the foreign key from accounts_address; nothing is created, dropped or renamed.
# The content type follows the model (accounts.domain becomes domains.domain, same row),
# so that permissions granted on domains and the admin's history of them are kept.

import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps, schema_editor, old, new):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model='domain').exists():
        ContentType.objects.using(db).filter(app_label=old, model='domain').update(app_label=new)


def forwards(apps, schema_editor):
    move_content_type(apps, schema_editor, 'accounts', 'domains')


def backwards(apps, schema_editor):
    move_content_type(apps, schema_editor, 'domains', 'accounts')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0008_mailtoken_session_key'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Domain',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=253, unique=True)),
                        ('is_active', models.BooleanField(default=True)),
                        ('description', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'accounts_domain',
                        'ordering': ['name'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('name', django.db.models.functions.text.Lower('name'))), name='domain_name_lower_case')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards, elidable=True),
    ]
