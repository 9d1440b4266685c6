"""Webhook signing secrets move from clear text to `secret_encrypted` (core/crypto.py):
add the column, encrypt every existing secret into it, then drop the clear column."""

from django.db import migrations, models


def encrypt_existing(apps, schema_editor):
    from core.crypto import secret_encrypt

    WebhookSubscription = apps.get_model("tenants", "WebhookSubscription")
    for subscription in WebhookSubscription.objects.using(schema_editor.connection.alias).exclude(secret=""):
        subscription.secret_encrypted = secret_encrypt(subscription.secret)
        subscription.save(update_fields=["secret_encrypted"])


def decrypt_existing(apps, schema_editor):
    from core.crypto import secret_decrypt

    WebhookSubscription = apps.get_model("tenants", "WebhookSubscription")
    for subscription in WebhookSubscription.objects.using(schema_editor.connection.alias).exclude(secret_encrypted=""):
        subscription.secret = secret_decrypt(subscription.secret_encrypted)
        subscription.save(update_fields=["secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_alertrule_triageindex"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_encrypted",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.RemoveField(model_name="webhooksubscription", name="secret"),
    ]
