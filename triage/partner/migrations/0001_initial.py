"""TriageIndex and AlertRule move here from `tenants` without moving data: the tables keep their
names (`tenants_triageindex`, `tenants_alertrule`), only Django's state changes hands."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("alertrule", "triageindex")


def content_types_move(apps, schema_editor):
    """Keep the two models' content types (and their permissions) under their new app label."""
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(app_label="tenants", model__in=MOVED).update(
        app_label="triage_partner"
    )


def content_types_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(
        app_label="triage_partner", model__in=MOVED
    ).update(app_label="tenants")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenants", "0011_auditevent_request_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AlertRule",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=120)),
                        (
                            "trigger",
                            models.CharField(
                                choices=[
                                    ("new_group", "A new exception group appears (or one reopens)"),
                                    ("critical", "A critical exception is raised"),
                                    ("sla_breach", "An exception breaches its SLA"),
                                    ("count_over", "A group recurs more than N times in M minutes"),
                                ],
                                max_length=12,
                            ),
                        ),
                        ("threshold", models.PositiveIntegerField(default=0, help_text="N for count_over.")),
                        ("window_minutes", models.PositiveIntegerField(default=60, help_text="M for count_over.")),
                        ("emails", models.JSONField(blank=True, default=list)),
                        (
                            "webhook",
                            models.BooleanField(default=True, help_text="Also send the signed `exception.alert` webhook."),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alert_rules",
                                to="tenants.partner",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alert_rules",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={"db_table": "tenants_alertrule", "ordering": ["name", "pk"]},
                ),
                migrations.CreateModel(
                    name="TriageIndex",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("exception_id", models.BigIntegerField()),
                        ("kind", models.CharField(max_length=24)),
                        ("severity", models.CharField(max_length=8)),
                        (
                            "severity_rank",
                            models.PositiveSmallIntegerField(help_text="0 = critical … 3 = low, for sorting."),
                        ),
                        ("fix_class", models.CharField(max_length=16)),
                        ("status", models.CharField(max_length=8)),
                        ("title", models.CharField(max_length=255)),
                        ("assignee_id", models.BigIntegerField(blank=True, null=True)),
                        ("assignee_email", models.EmailField(blank=True, max_length=254)),
                        ("count", models.PositiveIntegerField(default=1)),
                        ("first_seen", models.DateTimeField()),
                        ("last_seen", models.DateTimeField()),
                        ("sla_due", models.DateTimeField()),
                        ("sla_breached", models.BooleanField(default=False)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="triage_index",
                                to="tenants.partner",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="triage_index",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tenants_triageindex",
                        "ordering": ["sla_due", "pk"],
                        "indexes": [
                            models.Index(fields=["partner", "status", "sla_due"], name="triage_idx_partner_status"),
                            models.Index(
                                fields=["partner", "severity", "status", "sla_due"], name="triage_idx_partner_sev"
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("tenant", "exception_id"), name="triage_index_unique")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_back),
    ]
