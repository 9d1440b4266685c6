"""ErpTarget, ErpPush and ChartImport now belong to the `erp` app (posting/erp). Only Django's
state changes here: the tables stay where they are, under their posting_* names, and
erp.0001_initial takes them over."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('posting', '0008_reconciliation_lines'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='ChartImport'),
                migrations.DeleteModel(name='ErpPush'),
                migrations.DeleteModel(name='ErpTarget'),
            ],
            database_operations=[],
        ),
    ]
