# The Domain model moved to the domains app. State only: Address.domain points
# to domains.Domain, whose table is still accounts_domain, so the foreign key constraint
# stays as it is; then accounts forgets its Domain. (domains 0001 moved the content type.)

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_mailtoken_session_key'),
        ('domains', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='address',
                    name='domain',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='addresses', to='domains.domain'),
                ),
                migrations.DeleteModel(
                    name='Domain',
                ),
            ],
            database_operations=[],
        ),
    ]
