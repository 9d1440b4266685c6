from cryptography.fernet import Fernet
from django.db import connection as db
from django_tenants.utils import tenant_context

from connectors.models import Connection
from core import crypto
from tests.connectors.factories import ConnectionFactory


def test_credentials_are_stored_encrypted_and_read_back(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory(
            secrets={"credentials": {"access_token": "shpat_secret_value"}, "webhook_secret": "whk"}
        )
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT credentials_encrypted, webhook_secret_encrypted FROM connectors_connection WHERE id=%s",
                [conn.pk],
            )
            stored_credentials, stored_secret = cursor.fetchone()
        assert "shpat_secret_value" not in stored_credentials
        assert "whk" not in stored_secret
        fresh = Connection.objects.get(pk=conn.pk)
        assert fresh.credentials == {"access_token": "shpat_secret_value"}
        assert fresh.webhook_secret == "whk"


def test_empty_credentials_round_trip_as_empty(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory(secrets={"credentials": {}, "webhook_secret": ""})
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.credentials, fresh.webhook_secret, fresh.credentials_encrypted) == ({}, "", "")


def test_configured_keys_are_used_newest_first_and_old_tokens_still_read(world, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTOR_CREDENTIAL_KEYS = [old]
    token = crypto.secret_encrypt("s3cret-value")
    assert Fernet(old.encode()).decrypt(token.encode()) == b"s3cret-value"
    settings.CONNECTOR_CREDENTIAL_KEYS = [new, old]
    assert crypto.secret_decrypt(token) == "s3cret-value"
    rotated = crypto.token_rotate(token)
    assert Fernet(new.encode()).decrypt(rotated.encode()) == b"s3cret-value"
    settings.CONNECTOR_CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    try:
        crypto.secret_decrypt(token)
    except crypto.CredentialsUnreadable as error:
        assert str(error) == "Stored credentials cannot be decrypted with the configured keys."
    else:
        raise AssertionError("an unknown key must not decrypt")
