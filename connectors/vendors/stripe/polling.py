"""Stripe polling: `GET /v1/{charges,refunds,payouts}?created[gte]=…` paged by `starting_after`;
charges with their balance transaction expanded, paid payouts with their balance transactions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import NormaliseError, Page, Record
from connectors.vendors.common import body
from connectors.vendors.stripe.client import PAGE_SIZE, balance_transactions
from core.http.client import VendorClient

POLL_TOPICS = ("charges", "refunds", "payouts")


def fetch_page(
    *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
) -> Page:
    if topic not in POLL_TOPICS:
        raise NormaliseError(f"Stripe cannot poll {topic!r}.")
    watermark = cursor.get("created_gte")
    if watermark is None and since is not None:
        watermark = int(since.timestamp())
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if watermark is not None:
        params["created[gte]"] = watermark
    if cursor.get("starting_after"):
        params["starting_after"] = cursor["starting_after"]
    if topic == "charges":
        params["expand[]"] = "data.balance_transaction"
    if topic == "payouts":
        params["status"] = "paid"
    data = client.get(topic, params=params)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise NormaliseError(f"/v1/{topic} did not return a list.")
    objects = data["data"]
    records = []
    for obj in objects:
        record = dict(obj)
        if topic == "payouts":
            record["balance_transactions"] = balance_transactions(client, str(obj["id"]))
        records.append(Record(topic, str(obj["id"]), body(record)))
    newest = max([cursor.get("newest") or 0, *(int(obj.get("created") or 0) for obj in objects)])
    if data.get("has_more") and objects:
        return Page(
            records,
            {"created_gte": watermark, "newest": newest, "starting_after": objects[-1]["id"]},
            done=False,
        )
    next_watermark = newest or watermark
    return Page(records, {"created_gte": next_watermark} if next_watermark else {}, done=True)
