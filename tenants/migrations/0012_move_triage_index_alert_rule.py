"""TriageIndex and AlertRule now belong to `triage_partner` (triage/partner/): state only, the tables
stay where they are (see triage_partner 0001)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0011_auditevent_request_id"),
        ("triage_partner", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AlertRule"), migrations.DeleteModel(name="TriageIndex")],
            database_operations=[],
        ),
    ]
