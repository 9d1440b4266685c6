"""The ERP models, taken over from the posting app (posting.0009) without moving data: the state
is created here, the tables already exist under their posting_* names. Content types follow the
models, so rows that point at them (triage exceptions) stay attached."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("chartimport", "erppush", "erptarget")


def _content_types_move(apps, schema_editor, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    rows = content_type.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        if not rows.filter(app_label=target, model=model).exists():
            rows.filter(app_label=source, model=model).update(app_label=target)


def content_types_forward(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, "posting", "erp")


def content_types_backward(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, "erp", "posting")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('connectors', '0004_connection_refresh_token_expires_at'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('posting', '0009_erp_models_to_erp_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ChartImport',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('vendor', models.CharField(max_length=20)),
                        ('status', models.CharField(choices=[('preview', 'Awaiting review'), ('applied', 'Applied'), ('discarded', 'Discarded')], default='preview', max_length=10)),
                        ('chart', models.JSONField(default=dict)),
                        ('diff', models.JSONField(default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('applied_at', models.DateTimeField(blank=True, null=True)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='connectors.connection')),
                    ],
                    options={
                        'db_table': 'posting_chartimport',
                        'ordering': ['-created_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='ErpPush',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('target_key', models.CharField(max_length=40)),
                        ('vendor', models.CharField(max_length=20)),
                        ('reference', models.CharField(max_length=40)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('pushing', 'Pushing'), ('acked', 'Acknowledged'), ('failed', 'Failed')], default='pending', max_length=8)),
                        ('external_id', models.CharField(blank=True, max_length=120)),
                        ('erp_number', models.CharField(blank=True, max_length=120)),
                        ('erp_state', models.CharField(blank=True, max_length=20)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('error_kind', models.CharField(blank=True, max_length=20)),
                        ('error_message', models.TextField(blank=True)),
                        ('moved_to', models.DateField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('acked_at', models.DateTimeField(blank=True, null=True)),
                        ('connection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='connectors.connection')),
                        ('entry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='erp_pushes', to='posting.journalentry')),
                    ],
                    options={
                        'db_table': 'posting_erppush',
                        'ordering': ['-updated_at', '-pk'],
                        'indexes': [models.Index(fields=['status', 'updated_at'], name='posting_erp_push_status')],
                        'constraints': [models.UniqueConstraint(fields=('entry', 'target_key'), name='posting_erp_push_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='ErpTarget',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('singleton', models.PositiveSmallIntegerField(default=1, editable=False, unique=True)),
                        ('since', models.DateField(blank=True, null=True)),
                        ('changed_at', models.DateTimeField(auto_now=True)),
                        ('connection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='connectors.connection')),
                    ],
                    options={
                        'db_table': 'posting_erptarget',
                        'constraints': [models.CheckConstraint(condition=models.Q(('singleton', 1)), name='posting_erp_target_singleton')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
