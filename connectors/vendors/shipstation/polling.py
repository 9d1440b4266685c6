"""The polling fallback: shipments modified since the cursor (`GET /shipments` sorted by
modifyDate isn't offered in V1, so `createDateStart` with shipment items, oldest first, is the
watermark), one record per shipment, stored as events exactly like a SHIP_NOTIFY's shipments."""

from __future__ import annotations

import datetime as dt

from connectors.vendors.base import Page, Record
from connectors.vendors.common import body
from connectors.vendors.shipstation.client import shipments_list
from connectors.vendors.shipstation.normalise import PACIFIC
from core.http.client import VendorClient

POLL_TOPIC = "shipments"
OVERLAP = dt.timedelta(minutes=5)  # re-read a few minutes back: a slow label is not missed


def _pacific_text(moment: dt.datetime) -> str:
    return moment.astimezone(PACIFIC).replace(tzinfo=None).isoformat(timespec="seconds")


def shipments_page(*, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    start = cursor.get("createDateStart")
    if not start:
        start = _pacific_text(since) if since else _pacific_text(dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=7))
    page = int(cursor.get("page") or 1)
    data = shipments_list(client, createDateStart=start, sortBy="CreateDate", sortDir="ASC", page=page)
    shipments = data.get("shipments") or []
    records = [Record(POLL_TOPIC, str(item.get("shipmentId")), body(item)) for item in shipments]
    newest = max([cursor.get("newest") or "", *(str(item.get("createDate") or "") for item in shipments)])
    if page < int(data.get("pages") or 1):
        return Page(records, {"createDateStart": start, "page": page + 1, "newest": newest}, done=False)
    if newest:
        moment = dt.datetime.fromisoformat(newest.split(".")[0]).replace(tzinfo=PACIFIC) - OVERLAP
        return Page(records, {"createDateStart": _pacific_text(moment)}, done=True)
    return Page(records, {"createDateStart": start}, done=True)
