"""Issue 13: outbound webhook signing secrets are stored encrypted (and shown once); two forced ERP
re-pushes at once create the journal in the ERP exactly once."""

from __future__ import annotations

import importlib
import threading
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import tenant_context

from core import crypto
from mappings.services import standard_chart_apply
from posting import journals as posting_journals
from posting.erp import services as erp_services
from posting.erp.base import EntryState, ErpJournal, PushResult
from posting.erp.models import ErpPush
from posting.models import JournalEntry
from tenants import services as tenant_services
from tenants import webhooks
from tenants.models import WebhookSubscription
from tests.conftest import tenant_delete_settled
from tests.tenants.conftest import api_client, make_key  # noqa: F401

PUBLIC_URL = "https://93.184.216.34/hook"


def _stored(subscription_id: int) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'tenants_webhooksubscription'"
        )
        columns = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT * FROM public.tenants_webhooksubscription WHERE id = %s", [subscription_id])
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    assert set(row) == columns
    return {name: str(value) for name, value in row.items()}


def test_webhook_secret_is_stored_encrypted_and_shown_once(world, make_key, api_client):  # noqa: F811
    client = api_client("northwind.localhost", make_key(scopes=["admin"]))
    response = client.post("/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["tenant.created"]})
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    row = _stored(response.json()["id"])
    assert "secret" not in row  # no clear-text column left
    assert all(secret not in value for value in row.values())
    assert crypto.secret_decrypt(row["secret_encrypted"]) == secret
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert [sorted(item) for item in listed] == [["active", "created_at", "events", "id", "url"]]
    assert secret not in client.get("/api/v1/webhooks/").content.decode()
    assert WebhookSubscription.objects.get(pk=response.json()["id"]).secret == secret  # deliveries still sign


def test_data_migration_encrypts_existing_clear_text_secrets(world):
    """The migration's data step on a row as it was before it: clear `secret`, empty `secret_encrypted`
    (the old column is put back inside this test's transaction, which is rolled back)."""
    migration = importlib.import_module("tenants.migrations.0004_webhook_secret_encrypted")
    state = MigrationLoader(connection).project_state(("tenants", "0003_alertrule_triageindex"))
    migration.Migration.operations[0].state_forwards("tenants", state)  # + secret_encrypted, secret kept
    subscription = webhooks.webhook_subscription_create(
        partner=world.northwind, url=PUBLIC_URL, events=["tenant.created"], actor=None
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending on the table
        cursor.execute(
            "ALTER TABLE public.tenants_webhooksubscription ADD COLUMN secret varchar(80) NOT NULL DEFAULT ''"
        )
        cursor.execute(
            "UPDATE public.tenants_webhooksubscription SET secret = 'whsec_from_before', secret_encrypted = '' "
            "WHERE id = %s",
            [subscription.pk],
        )

    class Editor:
        connection = connection

    migration.encrypt_existing(state.apps, Editor())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_encrypted FROM public.tenants_webhooksubscription WHERE id = %s", [subscription.pk]
        )
        [encrypted] = cursor.fetchone()
    assert encrypted and "whsec_from_before" not in encrypted
    assert crypto.secret_decrypt(encrypted) == "whsec_from_before"
    migration.decrypt_existing(state.apps, Editor())  # the way back restores the clear value
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM public.tenants_webhooksubscription WHERE id = %s", [subscription.pk])
        assert cursor.fetchone() == ("whsec_from_before",)


def test_key_rotation_re_encrypts_webhook_secrets(world, settings):
    subscription = webhooks.webhook_subscription_create(
        partner=world.northwind, url=PUBLIC_URL, events=["tenant.created"], actor=None
    )
    secret = subscription.secret
    new_key = Fernet.generate_key().decode()
    settings.CONNECTOR_CREDENTIAL_KEYS = [new_key, crypto._derived_key().decode()]
    call_command("rotate_credentials_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CONNECTOR_CREDENTIAL_KEYS = [new_key]  # the old key is gone
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == secret


class CountingErp:
    """A fake ERP adapter: looks the reference up, then creates slowly (a real API call's window),
    counting every create."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, str] = {}
        self.creates = 0

    def __enter__(self) -> CountingErp:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def push(self, journal: ErpJournal) -> PushResult:
        with self.lock:
            found = self.entries.get(journal.reference)
        if found:
            return PushResult(found, False, EntryState.POSTED, found)
        time.sleep(0.5)
        with self.lock:
            self.creates += 1
            external_id = f"JE-{self.creates}"
            self.entries[journal.reference] = external_id
        return PushResult(external_id, True, EntryState.POSTED, external_id)


@pytest.fixture
def committed_entry(django_db_setup, django_db_blocker, monkeypatch):
    """A tenant of its own with one posted journal entry, committed (two connections must see it).
    Its push on commit is held back: the pushes raced here are the only ones."""
    from tests.conftest import _WORLD as world
    from tests.posting.erp.test_services import _posted_order

    monkeypatch.setattr(posting_journals, "erp_push_dispatch", lambda **kwargs: None)
    with django_db_blocker.unblock():
        slug = f"repush{uuid.uuid4().hex[:6]}"
        tenant = tenant_services.tenant_create(partner=world.northwind, slug=slug, name=slug).tenant
        try:
            with tenant_context(tenant):
                standard_chart_apply()
                entry = _posted_order()
            connection.set_schema_to_public()
            yield tenant, entry.pk, django_db_blocker
        finally:
            connection.set_schema_to_public()
            tenant_delete_settled(tenant)


def _race(tenant, entry_id: int, *forces: bool) -> list:
    start = threading.Barrier(len(forces))
    outcomes: list = [None] * len(forces)

    def push(index: int, force: bool) -> None:
        try:
            with tenant_context(tenant):
                entry = JournalEntry.objects.get(pk=entry_id)
                start.wait(timeout=10)
                if index:
                    time.sleep(0.1)  # the first one is inside the ERP call when the next arrives
                outcomes[index] = erp_services.erp_push_entry(entry=entry, force=force)
        except BaseException as error:  # reported to the test thread
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(i, force)) for i, force in enumerate(forces)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_forced_re_pushes_at_once_create_the_journal_once(committed_entry, monkeypatch):
    tenant, entry_id, blocker = committed_entry
    erp = CountingErp()
    monkeypatch.setattr(erp_services.connections, "adapter_for", lambda target_connection: erp)
    with blocker.unblock():
        first, second = _race(tenant, entry_id, True, True)
        assert erp.creates == 1
        assert {type(first), type(second)} == {erp_services.PushOutcome}
        assert sorted([first.skipped, second.skipped]) == ["", "already acknowledged"]
        with tenant_context(tenant):
            push = ErpPush.objects.get(entry_id=entry_id)
            assert (push.status, push.external_id, push.attempts) == ("acked", "JE-1", 1)
        connection.set_schema_to_public()


def test_a_normal_push_during_a_forced_one_skips(committed_entry, monkeypatch):
    tenant, entry_id, blocker = committed_entry
    erp = CountingErp()
    monkeypatch.setattr(erp_services.connections, "adapter_for", lambda target_connection: erp)
    with blocker.unblock():
        forced, normal = _race(tenant, entry_id, True, False)
        assert erp.creates == 1
        assert (forced.skipped, forced.push.status) == ("", "acked")
        assert normal.skipped == "another push is in progress"
        connection.set_schema_to_public()


def test_forced_re_push_after_an_acknowledged_one_does_not_create_again(world, monkeypatch):
    from tests.posting.erp.test_services import _posted_order

    erp = CountingErp()
    monkeypatch.setattr(erp_services.connections, "adapter_for", lambda target_connection: erp)
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = _posted_order(external_id="2002")
        assert erp_services.erp_push_entry(entry=entry, force=True).push.status == "acked"
        assert erp_services.erp_push_entry(entry=entry, force=True).skipped == "already acknowledged"
    assert erp.creates == 1
