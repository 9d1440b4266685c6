"""Square: promotions as Catalog pricing rules (DISCOUNT + PRODUCT_SET + PRICING_RULE), prices on
item variations, and available-to-sell as inventory physical counts.

- The three objects are written in one `catalog/batch-upsert`. An update first reads the objects'
  current `version` (Square's optimistic concurrency) and sends it back; a stale version is refused
  by Square and surfaces as ChannelRejected.
- The pricing rule's name carries the promotion's key and version ("Summer sale [promo-42 v3]").
- Money goes to Square in minor units of the currency (core.money): 500 JPY is 500, 1.250 KWD is 1250.
- Pricing-rule dates are the seller's local dates and times; they are taken in the connection's
  `timezone` (config) or else the tenant's.
- Pause moves the rule's validity window to a closed window in the past (2000-01-01 → 2000-01-02)
  and records the real window in the name tag; resume restores it. The pricing rule keeps its id,
  so a deployment's external id never changes. (Deleting the rule would also stop it, but resume
  would then have to re-create it under a new id.)
- SKUs become ITEM_VARIATION ids by searching the catalog (`exact_query` on `sku`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from connectors.vendors import common
from connectors.vendors.base import ChannelAck, ChannelAdapter, ChannelRejected, LiveOffer, PriceSpec, PromotionSpec
from connectors.vendors.square.client import client as vendor_client
from core.http.client import BadResponse, VendorClient
from core.money import from_minor, to_minor
from core.tenancy import tenant_zone

if TYPE_CHECKING:
    from connectors.models import Connection

VENDOR = "Square"
PAUSED_FROM = "2000-01-01"
PAUSED_UNTIL = "2000-01-02"
INVENTORY_BATCH = 100  # Square takes at most 100 changes per batch-create
OPEN = "open"


def _message(payload: Any) -> str | None:
    """Square errors: {"errors": [{"category", "code", "detail", "field"}]}."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list) or not errors:
        return None
    parts = []
    for error in errors:
        text = error.get("detail") or error.get("code") or "error"
        if error.get("field"):
            text += f" ({error['field']})"
        parts.append(text)
    return "; ".join(parts)


def idempotency_key(body: Mapping[str, Any]) -> str:
    """The same request always carries the same key, so a retried call is applied once by Square."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"tb-{digest[:60]}"


def _local(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[str, str]:
    local = moment.astimezone(zone)
    return local.date().isoformat(), local.time().replace(microsecond=0).isoformat()


class SquareChannel(ChannelAdapter):
    vendor = "square"
    kinds = frozenset({"percent_off", "amount_off"})
    features = frozenset({"pause", "prices", "inventory"})

    def unsupported(self, spec: PromotionSpec) -> list[str]:
        reasons = super().unsupported(spec)
        if spec.coupon_codes:
            reasons.append("Square pricing rules apply automatically at the point of sale and take no coupon codes")
        if spec.usage_limit is not None:
            reasons.append("Square pricing rules have no usage limit")
        if spec.collections:
            reasons.append("Square has categories, not collections")
        if spec.kind == "amount_off" and not (spec.skus or spec.categories):
            reasons.append("Square takes an amount off each matched item: name the SKUs or categories")
        return reasons + common.value_reasons(spec)

    # ----------------------------------------------------------------- plumbing

    def _client(self, connection: Connection) -> VendorClient:
        return vendor_client(connection)

    def _zone(self, connection: Connection) -> zoneinfo.ZoneInfo:
        name = connection.config.get("timezone")
        return zoneinfo.ZoneInfo(name) if name else tenant_zone()

    def _object_get(self, client: VendorClient, object_id: str) -> dict | None:
        path = f"catalog/object/{object_id}"
        found = common.get_member(client, path, "object", vendor=VENDOR, what="a catalog object")
        return None if found is None or found.get("is_deleted") else found

    def _objects_get(self, client: VendorClient, object_ids: Sequence[str]) -> dict[str, dict]:
        ids = [object_id for object_id in object_ids if object_id]
        if not ids:
            return {}
        data = client.json("POST", "catalog/batch-retrieve", json={"object_ids": ids})
        found = (data or {}).get("objects", []) if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise BadResponse("Square answered batch-retrieve without `objects`.")
        return {item["id"]: item for item in found if not item.get("is_deleted")}

    def _upsert(self, client: VendorClient, objects: list[dict], *, doing: str, salt: str = "") -> dict:
        body: dict[str, Any] = {"batches": [{"objects": objects}]}
        body["idempotency_key"] = idempotency_key({**body, "salt": salt} if salt else body)
        with common.rejections(VENDOR, _message, doing=doing):
            data = client.json("POST", "catalog/batch-upsert", json=body)
        if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
            raise BadResponse("Square answered batch-upsert without `objects`.")
        return data

    def _ack(self, rule: dict | None, external_id: str) -> ChannelAck:
        if rule is None:
            return common.absent(external_id)
        return common.tagged_ack(rule["id"], (rule.get("pricing_rule_data") or {}).get("name"), rule)

    def variations_by_sku(self, client: VendorClient, skus: Sequence[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, dict] = {}
        for sku in wanted:
            body = {
                "object_types": ["ITEM_VARIATION"],
                "query": {"exact_query": {"attribute_name": "sku", "attribute_value": sku}},
            }
            with common.rejections(VENDOR, _message, doing=f"look up SKU {sku}"):
                data = client.json("POST", "catalog/search-catalog-objects", json=body)
            objects = [
                item
                for item in ((data or {}).get("objects") or [] if isinstance(data, dict) else [])
                if not item.get("is_deleted") and (item.get("item_variation_data") or {}).get("sku") == sku
            ]
            if len(objects) > 1:
                ids = ", ".join(item["id"] for item in objects)
                raise ChannelRejected(
                    f"Square has several item variations with SKU {sku} ({ids}).", detail={"sku": sku}
                )
            if objects:
                found[sku] = objects[0]
        common.unknown_skus_reject(VENDOR, wanted, found)
        return found

    # ----------------------------------------------------------------- promotions

    def _presence(self, spec: PromotionSpec) -> dict[str, Any]:
        if spec.location_ids:
            return {"present_at_all_locations": False, "present_at_location_ids": list(spec.location_ids)}
        return {"present_at_all_locations": True}

    def _window(self, spec: PromotionSpec, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
        from_date, from_time = _local(spec.starts_at, zone)
        window: dict[str, Any] = {"valid_from_date": from_date, "valid_from_local_time": from_time}
        if spec.ends_at is not None:
            until_date, until_time = _local(spec.ends_at, zone)
            window.update(valid_until_date=until_date, valid_until_local_time=until_time)
        return window

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        common.supported_check(self, VENDOR, spec)
        name = common.tag_title(spec.title, common.Tag(spec.key, spec.version))
        with self._client(connection) as client:
            variations = self.variations_by_sku(client, spec.skus) if spec.skus else {}
            rule = self._object_get(client, external_id) if external_id else None
            related: dict[str, dict] = {}
            if rule is not None:
                data = rule.get("pricing_rule_data") or {}
                related = self._objects_get(client, [data.get("discount_id", ""), data.get("match_products_id", "")])
            discount_old = related.get((rule or {}).get("pricing_rule_data", {}).get("discount_id", ""))
            products_old = related.get((rule or {}).get("pricing_rule_data", {}).get("match_products_id", ""))

            discount_data = self._discount_data(spec, name)
            product_set_data = self._product_set_data(spec, name, variations)
            rule_data: dict[str, Any] = {
                "name": name,
                "discount_id": discount_old["id"] if discount_old else "#discount",
                "match_products_id": products_old["id"] if products_old else "#products",
                **self._window(spec, self._zone(connection)),
            }
            if spec.min_spend is not None:
                rule_data["minimum_order_subtotal_money"] = {
                    "amount": to_minor(spec.min_spend, spec.currency),
                    "currency": spec.currency,
                }
            presence = self._presence(spec)
            objects = [
                self._object("DISCOUNT", discount_old, "#discount", "discount_data", discount_data, presence),
                self._object("PRODUCT_SET", products_old, "#products", "product_set_data", product_set_data, presence),
                self._object("PRICING_RULE", rule, "#rule", "pricing_rule_data", rule_data, presence),
            ]
            doing = f"save pricing rule {spec.key} v{spec.version}"
            rule_id = self._rule_id(self._upsert(client, objects, doing=doing), rule["id"] if rule else None)
            saved = self._object_get(client, rule_id)
            if saved is None and rule is None:
                # Square answered from its idempotency cache: the same promotion was created before and
                # removed since (rollback, then publish again). Create it afresh under a new key.
                rule_id = self._rule_id(self._upsert(client, objects, doing=doing, salt=rule_id), None)
                saved = self._object_get(client, rule_id)
            return self._ack(saved, rule_id)

    @staticmethod
    def _discount_data(spec: PromotionSpec, name: str) -> dict[str, Any]:
        if spec.kind == "percent_off":
            return {"name": name, "discount_type": "FIXED_PERCENTAGE", "percentage": f"{spec.value.normalize():f}"}
        return {
            "name": name,
            "discount_type": "FIXED_AMOUNT",
            "amount_money": {"amount": to_minor(spec.value, spec.currency), "currency": spec.currency},
        }

    @staticmethod
    def _product_set_data(spec: PromotionSpec, name: str, variations: Mapping[str, dict]) -> dict[str, Any]:
        """The SKUs' variations and the categories in scope; none at all means every product."""
        product_ids = [variations[sku]["id"] for sku in dict.fromkeys(spec.skus)] + list(spec.categories)
        if product_ids:
            return {"name": name, "product_ids_any": product_ids}
        return {"name": name, "all_products": True}

    @staticmethod
    def _rule_id(data: Mapping[str, Any], known: str | None) -> str:
        """The pricing rule's id: Square's id for the new `#rule`, else the one it already had."""
        rule_id = known
        for mapping in data.get("id_mappings") or []:
            if mapping.get("client_object_id") == "#rule":
                rule_id = mapping.get("object_id")
        if not rule_id:
            raise BadResponse("Square saved the pricing rule but did not say its id.")
        return rule_id

    @staticmethod
    def _object(
        kind: str, old: dict | None, temporary_id: str, field: str, data: dict, presence: dict
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"type": kind, "id": old["id"] if old else temporary_id, field: data, **presence}
        if old is not None:
            result["version"] = old["version"]  # optimistic concurrency: Square refuses a stale version
        return result

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        """The pricing rule as Square holds it, with the live offer's terms read from its discount,
        its product set (variations' SKUs, categories) and its window in the connection's zone."""
        with self._client(connection) as client:
            rule = self._object_get(client, external_id)
            ack = self._ack(rule, external_id)
            return ack if rule is None else replace(ack, offer=self._offer(client, rule, self._zone(connection)))

    def _offer(self, client: VendorClient, rule: Mapping[str, Any], zone: zoneinfo.ZoneInfo) -> LiveOffer:
        data = rule.get("pricing_rule_data") or {}
        related = self._objects_get(client, [data.get("discount_id", ""), data.get("match_products_id", "")])
        discount = (related.get(data.get("discount_id", "")) or {}).get("discount_data") or {}
        products = (related.get(data.get("match_products_id", "")) or {}).get("product_set_data") or {}
        if discount.get("discount_type") == "FIXED_PERCENTAGE":
            kind, value = "percent_off", Decimal(str(discount.get("percentage") or "0"))
        else:
            money = discount.get("amount_money") or {}
            kind, value = "amount_off", from_minor(int(money.get("amount") or 0), money.get("currency") or "USD")
        members = self._objects_get(client, list(products.get("product_ids_any") or []))
        variations = [item for item in members.values() if item.get("type") == "ITEM_VARIATION"]
        skus = [(item.get("item_variation_data") or {}).get("sku") or "" for item in variations]
        categories = [item["id"] for item in members.values() if item.get("type") == "CATEGORY"]
        missing = [f"object {pk} (deleted)" for pk in products.get("product_ids_any") or [] if pk not in members]
        minimum = data.get("minimum_order_subtotal_money")
        everywhere = rule.get("present_at_all_locations")
        locations = () if everywhere else tuple(rule.get("present_at_location_ids") or ())
        return LiveOffer(
            kind=kind,
            value=value,
            starts_at=self._moment(data, "valid_from", zone),
            ends_at=self._moment(data, "valid_until", zone),
            eligibility={
                "skus": tuple(sorted(skus + missing)),
                "categories": tuple(categories),
                "locations": locations,
                "min_spend": from_minor(int(minimum["amount"]), minimum["currency"]) if minimum else None,
            },
        )

    @staticmethod
    def _moment(data: Mapping[str, Any], prefix: str, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        """A window end as Square keeps it (local date and time in the seller's zone), aware."""
        day = data.get(f"{prefix}_date")
        if not day:
            return None
        return dt.datetime.fromisoformat(f"{day}T{data.get(f'{prefix}_local_time') or '00:00:00'}").replace(tzinfo=zone)

    def _rule_tagged(self, client: VendorClient, external_id: str) -> tuple[dict | None, common.Tag | None]:
        rule = self._object_get(client, external_id)
        if rule is None:
            return None, None
        tag = common.tag_parse((rule.get("pricing_rule_data") or {}).get("name"))
        if tag is None:
            raise ChannelRejected(
                f"Square pricing rule {external_id} was not written by this portal (its name has no promotion tag)."
            )
        return rule, tag

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        with self._client(connection) as client:
            rule, tag = self._rule_tagged(client, external_id)
            if rule is None or tag is None or tag.paused:
                return self._ack(rule, external_id)
            data = dict(rule["pricing_rule_data"])
            attrs = {
                "from": f"{data.get('valid_from_date', OPEN)}T{data.get('valid_from_local_time', '00:00:00')}",
                "until": (
                    f"{data['valid_until_date']}T{data.get('valid_until_local_time', '00:00:00')}"
                    if data.get("valid_until_date")
                    else OPEN
                ),
            }
            for name in ("valid_from_local_time", "valid_until_local_time"):
                data.pop(name, None)
            data.update(
                name=common.tag_title(data["name"], common.Tag(tag.key, tag.version, True, attrs)),
                valid_from_date=PAUSED_FROM,
                valid_until_date=PAUSED_UNTIL,
            )
            self._upsert(client, [{**rule, "pricing_rule_data": data}], doing="pause the pricing rule")
            return self._ack(self._object_get(client, external_id), external_id)

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        with self._client(connection) as client:
            rule, tag = self._rule_tagged(client, external_id)
            if rule is None or tag is None or not tag.paused:
                return self._ack(rule, external_id)
            data = dict(rule["pricing_rule_data"])
            for name in ("valid_from_date", "valid_from_local_time", "valid_until_date", "valid_until_local_time"):
                data.pop(name, None)
            for prefix in ("from", "until"):
                value = tag.attrs.get(prefix, OPEN)
                if value != OPEN and not value.startswith(OPEN):
                    day, _, clock = value.partition("T")
                    data[f"valid_{prefix}_date"] = day
                    data[f"valid_{prefix}_local_time"] = clock
            data["name"] = common.tag_title(data["name"], common.Tag(tag.key, tag.version))
            self._upsert(client, [{**rule, "pricing_rule_data": data}], doing="resume the pricing rule")
            return self._ack(self._object_get(client, external_id), external_id)

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        with self._client(connection) as client:
            rule = self._object_get(client, external_id)
            if rule is not None:
                data = rule.get("pricing_rule_data") or {}
                ids = [rule["id"], data.get("discount_id"), data.get("match_products_id")]
                with common.rejections(VENDOR, _message, doing="delete the pricing rule"):
                    client.json("POST", "catalog/batch-delete", json={"object_ids": [item for item in ids if item]})
            return self._ack(self._object_get(client, external_id), external_id)

    # ----------------------------------------------------------------- prices and inventory

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        common.price_now_check(VENDOR, spec)
        with self._client(connection) as client:
            variations = self.variations_by_sku(client, list(spec.prices))
            objects = []
            for sku, price in spec.prices.items():
                variation = variations[sku]
                data = dict(variation["item_variation_data"])
                data.update(
                    pricing_type="FIXED_PRICING",
                    price_money={"amount": to_minor(price, spec.currency), "currency": spec.currency},
                )
                objects.append({**variation, "item_variation_data": data})
            saved = self._upsert(client, objects, doing=f"set the prices of price list {spec.key} v{spec.version}")
            by_id = {item["id"]: item for item in saved["objects"]}
            shown: dict[str, Decimal] = {}
            for sku in spec.prices:
                variation = by_id.get(variations[sku]["id"])
                money = ((variation or {}).get("item_variation_data") or {}).get("price_money")
                if not isinstance(money, dict):
                    raise BadResponse(f"Square did not answer the saved price of {sku}.")
                if money.get("currency") != spec.currency:
                    raise ChannelRejected(
                        f"Square shows {sku} in {money.get('currency')}, not {spec.currency}.", detail={"sku": sku}
                    )
                shown[sku] = from_minor(int(money["amount"]), spec.currency)
            return shown

    def push_available(
        self, connection: Connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        quantities = {(sku, location): common.whole_quantity(sku, value) for (sku, location), value in levels.items()}
        with self._client(connection) as client:
            variations = self.variations_by_sku(client, [sku for sku, _location in quantities])
            occurred_at = timezone.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            changes = [
                {
                    "type": "PHYSICAL_COUNT",
                    "physical_count": {
                        "catalog_object_id": variations[sku]["id"],
                        "state": "IN_STOCK",
                        "location_id": location,
                        "quantity": str(quantity),
                        "occurred_at": occurred_at,
                    },
                }
                for (sku, location), quantity in quantities.items()
            ]
            for part in common.chunks(changes, INVENTORY_BATCH):
                body: dict[str, Any] = {"changes": list(part), "ignore_unchanged_counts": True}
                body["idempotency_key"] = idempotency_key(body)
                with common.rejections(VENDOR, _message, doing="set inventory counts"):
                    client.json("POST", "inventory/changes/batch-create", json=body)
            counts = self._counts(
                client,
                sorted({variations[sku]["id"] for sku, _location in quantities}),
                sorted({location for _sku, location in quantities}),
            )
            shown: dict[tuple[str, str], Decimal] = {}
            for (sku, location), quantity in quantities.items():
                count = counts.get((variations[sku]["id"], location))
                if count is None and quantity != 0:
                    raise ChannelRejected(
                        f"Square does not show a count for {sku} at {location} after the update.",
                        detail={"sku": sku, "location_id": location},
                    )
                shown[(sku, location)] = count if count is not None else Decimal(0)
            return shown

    def _counts(
        self, client: VendorClient, object_ids: list[str], location_ids: list[str]
    ) -> dict[tuple[str, str], Decimal]:
        counts: dict[tuple[str, str], Decimal] = {}
        body: dict[str, Any] = {"catalog_object_ids": object_ids, "location_ids": location_ids, "states": ["IN_STOCK"]}
        while True:
            data = client.json("POST", "inventory/counts/batch-retrieve", json=body)
            if not isinstance(data, dict):
                raise BadResponse("Square answered inventory counts with something other than an object.")
            for count in data.get("counts") or []:
                if count.get("state") == "IN_STOCK":
                    counts[(count["catalog_object_id"], count["location_id"])] = Decimal(str(count["quantity"]))
            if not data.get("cursor"):
                return counts
            body = {**body, "cursor": data["cursor"]}
