"""The due-time index of periodic work (tenants/due.py): every existing tenant starts due, with
every job, so its first visit records when it is next due."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0012_move_triage_index_alert_rule'),
    ]

    operations = [
        migrations.CreateModel(
            name='TenantDue',
            fields=[
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='due', serialize=False, to='tenants.tenant')),
                ('due_at', models.DateTimeField(blank=True, help_text='Null: nothing due until a write marks it.', null=True)),
                ('all_due', models.BooleanField(default=True, help_text='Marked by a write: every job runs at the next visit.')),
                ('version', models.BigIntegerField(default=0)),
                ('jobs', models.JSONField(default=dict, help_text='Job name → next due (epoch seconds, null: nothing pending).')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('due_at__isnull', False)), fields=['due_at'], name='tenant_due_at')],
            },
        ),
        migrations.RunSQL(
            sql="""
            INSERT INTO tenants_tenantdue (tenant_id, due_at, all_due, version, jobs)
            SELECT id, now(), true, 0, '{}'::jsonb FROM tenants_tenant WHERE schema_name <> 'public'
            ON CONFLICT DO NOTHING
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
