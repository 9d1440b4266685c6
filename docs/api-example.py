"""A partner's script against the Tillbridge API, using nothing but the API (and httpx).

    TILLBRIDGE_URL=http://northwind.localhost:8000 TILLBRIDGE_KEY=tb_live_… python docs/api-example.py juniper

1. creates a tenant (idempotently: a retry with the same Idempotency-Key replays the first answer);
2. connects a Shopify source to it (credentials are write-only: the answer names them, never shows them);
3. reads the tenant's open exceptions, on the tenant's own domain, with the same partner key.

The key needs the `read` and `write` scopes. Partner-level calls go to the partner console host;
tenant-level calls go to the tenant's host (`domain` in the tenant resource): a partner key is
accepted on every tenant host of its partner. Errors come back as
{"error": {"code", "message", "details", "request_id"}}.
"""

from __future__ import annotations

import os
import sys
import uuid
from urllib.parse import urlsplit

import httpx


def fail(response: httpx.Response) -> None:
    error = (
        response.json().get("error", {})
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    sys.exit(f"{response.request.method} {response.request.url} → {response.status_code} {error}")


def main(slug: str) -> None:
    base_url = os.environ.get("TILLBRIDGE_URL", "http://northwind.localhost:8000")
    headers = {"Authorization": f"Bearer {os.environ['TILLBRIDGE_KEY']}"}
    partner = httpx.Client(base_url=base_url, headers=headers, timeout=30)

    # 1. Create the tenant. Keep the Idempotency-Key with the job so a retry cannot create two.
    response = partner.post(
        "/api/v1/tenants/",
        json={
            "slug": slug,
            "name": slug.replace("-", " ").title(),
            "timezone": "Europe/London",
            "base_currency": "GBP",
        },
        headers={"Idempotency-Key": f"create-tenant-{slug}-{uuid.uuid5(uuid.NAMESPACE_URL, base_url)}"},
    )
    if response.status_code not in (200, 201):
        fail(response)
    tenant = response.json()
    replayed = " (replayed)" if response.headers.get("Idempotent-Replayed") else ""
    print(f"tenant {tenant['slug']} at {tenant['domain']}: {tenant['status']}{replayed}")

    port = urlsplit(base_url).port
    tenant_url = f"{urlsplit(base_url).scheme}://{tenant['domain']}" + (f":{port}" if port else "")
    tenant_client = httpx.Client(base_url=tenant_url, headers=headers, timeout=30)
    me = tenant_client.get("/api/v1/tenant/")
    if me.status_code != 200:
        fail(me)
    principal = me.json()["principal"]
    print(f"calling {me.json()['slug']} as {principal['name']} with scopes {principal['scopes']}")

    # 2. Connect a source. Retrying with the same Idempotency-Key replays the first answer.
    response = tenant_client.post(
        "/api/v1/connections/",
        json={
            "vendor": "shopify",
            "direction": "source",
            "name": f"{slug} web shop",
            "config": {"shop_domain": f"{slug}.myshopify.com"},
            "credentials": {"access_token": os.environ.get("SHOPIFY_TOKEN", "shpat_example")},
        },
        headers={"Idempotency-Key": f"connect-{slug}-shopify"},
    )
    if response.status_code not in (200, 201):
        fail(response)
    connection = response.json()
    print(f"connected source {connection['name']} (id {connection['id']}); webhooks go to {connection['webhook_url']}")

    # 3. Read the tenant's open exceptions (cursor-paginated: follow `next`).
    url: str | None = "/api/v1/exceptions/?status=open_all"
    count = 0
    while url:
        response = tenant_client.get(url)
        if response.status_code != 200:
            fail(response)
        page = response.json()
        for item in page["results"]:
            count += 1
            print(f"- [{item['severity']}] {item['kind']}: {item['title']}")
        url = page.get("next")
    print(f"{count} open exception(s) in {slug}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "juniper")
