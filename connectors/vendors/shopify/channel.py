"""Shopify: promotions as Admin REST price rules with discount codes, prices on variants, and
available-to-sell through inventory levels.

- The price rule's title carries the promotion's key and version ("Summer sale [promo-42 v3]"), so
  read-back reports the version the shop really holds without metafields.
- Price rules apply through discount codes only: a promotion with coupon codes is a price rule with
  those codes; one without any is an automatic discount through the Admin GraphQL API
  (`automatic.py`, its channel id the node's global id).
- Shopify has no pause flag. Pause sets `ends_at` to now (and pulls a future `starts_at` back, since
  Shopify wants the end after the start) and records the original window in the title tag
  ("[promo-42 v3 paused ends=2026-12-01T00:00:00+00:00]"); resume restores that window.
- SKUs become variant ids through the Admin GraphQL `productVariants(query: "sku:…")`; an unknown
  SKU is a ChannelRejected naming it, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from connectors.vendors import common
from connectors.vendors.base import ChannelAck, ChannelAdapter, ChannelRejected, LiveOffer, PriceSpec, PromotionSpec
from connectors.vendors.shopify import automatic
from connectors.vendors.shopify.client import client as vendor_client
from core.http.client import BadResponse, RateLimited, VendorClient
from core.money import quantize

if TYPE_CHECKING:
    from connectors.models import Connection

VENDOR = "Shopify"
SKU_QUERY_CHUNK = 50
_GID = re.compile(r"/(\d+)$")
VARIANTS_QUERY = """
query VariantsBySku($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku price inventoryItem { id } }
  }
}
"""


VARIANT_SKUS_QUERY = """
query VariantSkus($ids: [ID!]!) {
  nodes(ids: $ids) { ... on ProductVariant { id sku } }
}
"""


def _message(payload: Any) -> str | None:
    """Shopify's REST errors: {"errors": "text"} or {"errors": {"field": ["problem", ...]}}."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return "; ".join(str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in errors)
    if isinstance(errors, dict):
        parts = []
        for name, problems in errors.items():
            text = ", ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
            parts.append(text if name == "base" else f"{name} {text}")
        return "; ".join(parts)
    return None


def _numeric_id(gid: str) -> int:
    match = _GID.search(str(gid))
    if match is None:
        raise BadResponse(f"Shopify answered {gid!r} where a global id was expected.")
    return int(match.group(1))


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def generated_code(key: str) -> str:
    """The discount code used when a promotion has no coupon code of its own."""
    return re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").upper()


def _percent(value: Decimal) -> str:
    return f"-{value.normalize():f}"


def _paused(rule: dict, tag: common.Tag) -> dict[str, Any] | None:
    """The update that pauses a running rule: it ends now, its window kept in the tag."""
    if tag.paused:
        return None
    now = timezone.now().replace(microsecond=0)
    starts_at = _parse_time(rule.get("starts_at"))
    attrs = {"ends": rule.get("ends_at") or "open"}
    update: dict[str, Any] = {"ends_at": _iso(now)}
    if starts_at is not None and starts_at >= now:
        # Shopify wants ends_at after starts_at: move the (future) start into the past too.
        attrs["starts"] = rule["starts_at"]
        update["starts_at"] = _iso(now - dt.timedelta(minutes=1))
    update["title"] = common.tag_title(rule["title"], common.Tag(tag.key, tag.version, True, attrs))
    return update


def _resumed(rule: dict, tag: common.Tag) -> dict[str, Any] | None:
    """The update that resumes a paused rule: the window the tag kept, the tag unpaused."""
    if not tag.paused:
        return None
    ends = tag.attrs.get("ends", "open")
    update: dict[str, Any] = {
        "ends_at": None if ends == "open" else ends,
        "title": common.tag_title(rule["title"], common.Tag(tag.key, tag.version)),
    }
    if "starts" in tag.attrs:
        update["starts_at"] = tag.attrs["starts"]
    return update


class ShopifyChannel(ChannelAdapter):
    vendor = "shopify"
    kinds = frozenset({"percent_off", "amount_off", "buy_x_get_y", "free_shipping"})
    features = frozenset({"pause", "prices", "inventory"})

    # ----------------------------------------------------------------- capability checks

    def unsupported(self, spec: PromotionSpec) -> list[str]:
        reasons = super().unsupported(spec)
        if spec.categories:
            reasons.append("Shopify discounts target variants or collections, not categories")
        if spec.location_ids:
            reasons.append("Shopify price rules apply to the online store as a whole, not to chosen locations")
        bad = [item for item in spec.collections if not str(item).isdigit()]
        if bad:
            reasons.append(f"Shopify collection ids are numbers: {', '.join(map(str, bad))}")
        if not spec.coupon_codes and spec.usage_limit:
            reasons.append("Shopify automatic discounts (no code) have no usage limit; give the promotion a code")
        reasons += common.value_reasons(spec)
        if spec.kind == "buy_x_get_y":
            if not (spec.buy_quantity and spec.get_quantity):
                reasons.append("buy X get Y needs both quantities")
            if not (spec.skus or spec.collections):
                reasons.append("buy X get Y on Shopify needs SKUs or collections")
            if not (0 <= spec.value <= 100):
                reasons.append("buy X get Y's value is the percentage off the Y items (100 = free)")
        return reasons

    # ----------------------------------------------------------------- plumbing

    def _client(self, connection: Connection) -> VendorClient:
        return vendor_client(connection)

    def _rule_get(self, client: VendorClient, external_id: str) -> dict | None:
        path = f"price_rules/{int(external_id)}.json"
        return common.get_member(client, path, "price_rule", vendor=VENDOR, what="a price rule")

    def _ack(self, rule: dict | None, external_id: str, codes: Sequence[str] = ()) -> ChannelAck:
        if rule is None:
            return common.absent(external_id)
        return common.tagged_ack(rule["id"], rule.get("title"), {**rule, "discount_codes": list(codes)})

    def _codes(self, client: VendorClient, rule_id: int) -> list[dict]:
        data = client.get(f"price_rules/{rule_id}/discount_codes.json")
        codes = data.get("discount_codes") if isinstance(data, dict) else None
        if not isinstance(codes, list):
            raise BadResponse("Shopify answered discount codes without `discount_codes`.")
        return codes

    def variants_by_sku(self, client: VendorClient, skus: Sequence[str]) -> dict[str, list[dict]]:
        """sku -> the variants carrying exactly that SKU (Shopify's search also matches prefixes)."""
        wanted = list(dict.fromkeys(skus))
        found: dict[str, list[dict]] = {}
        for part in common.chunks(wanted, SKU_QUERY_CHUNK):
            query = " OR ".join('sku:"{}"'.format(sku.replace("\\", "\\\\").replace('"', '\\"')) for sku in part)
            with common.rejections(VENDOR, _message, doing="look up SKUs"):
                data = client.json(
                    "POST", "graphql.json", json={"query": VARIANTS_QUERY, "variables": {"query": query, "first": 250}}
                )
            if not isinstance(data, dict):
                raise BadResponse("Shopify GraphQL answered something other than an object.")
            if data.get("errors"):
                codes = {str((error.get("extensions") or {}).get("code")) for error in data["errors"]}
                if "THROTTLED" in codes:
                    raise RateLimited("Shopify GraphQL is throttled; the cost budget refills within seconds.")
                raise ChannelRejected(f"Shopify refused the SKU lookup: {_message(data)}")
            nodes = ((data.get("data") or {}).get("productVariants") or {}).get("nodes")
            if not isinstance(nodes, list):
                raise BadResponse("Shopify GraphQL answered without productVariants.nodes.")
            for node in nodes:
                if node.get("sku") in part:
                    found.setdefault(node["sku"], []).append(node)
        common.unknown_skus_reject(VENDOR, wanted, found)
        return found

    def _one_variant(self, variants: Mapping[str, list[dict]], sku: str) -> dict:
        matches = variants[sku]
        if len(matches) > 1:
            ids = ", ".join(str(_numeric_id(node["id"])) for node in matches)
            raise ChannelRejected(f"Shopify has several variants with SKU {sku} ({ids}).", detail={"sku": sku})
        return matches[0]

    def _shop_currency_check(self, client: VendorClient, currency: str) -> None:
        data = client.get("shop.json")
        common.store_currency_check(
            VENDOR, (data or {}).get("shop", {}).get("currency") if isinstance(data, dict) else None, currency
        )

    # ----------------------------------------------------------------- promotions

    def _rule_body(self, spec: PromotionSpec, variant_ids: list[int]) -> dict[str, Any]:
        collections = [int(item) for item in spec.collections]
        targeted = bool(variant_ids or collections)
        body: dict[str, Any] = {
            "title": common.tag_title(spec.title, common.Tag(spec.key, spec.version)),
            "target_type": "line_item",
            "target_selection": "entitled" if targeted else "all",
            "allocation_method": "across",
            "customer_selection": "all",
            "once_per_customer": False,
            "usage_limit": spec.usage_limit,
            "starts_at": _iso(spec.starts_at),
            "ends_at": _iso(spec.ends_at),
            "entitled_variant_ids": variant_ids,
            "entitled_collection_ids": collections,
            "prerequisite_subtotal_range": (
                {"greater_than_or_equal_to": str(quantize(spec.min_spend, spec.currency))}
                if spec.min_spend is not None
                else None
            ),
        }
        if spec.kind == "percent_off":
            body.update(value_type="percentage", value=_percent(spec.value))
        elif spec.kind == "amount_off":
            # With SKUs or collections the amount comes off each entitled item; otherwise off the order.
            body.update(value_type="fixed_amount", value=f"-{quantize(spec.value, spec.currency)}")
            body["allocation_method"] = "each" if targeted else "across"
        elif spec.kind == "free_shipping":
            body.update(
                value_type="percentage",
                value="-100.0",
                target_type="shipping_line",
                target_selection="all",
                allocation_method="each",
                entitled_variant_ids=[],
                entitled_collection_ids=[],
            )
        elif spec.kind == "buy_x_get_y":
            body.update(
                value_type="percentage",
                value=_percent(spec.value or Decimal(100)),
                allocation_method="each",
                prerequisite_variant_ids=variant_ids,
                prerequisite_collection_ids=collections,
                prerequisite_to_entitlement_quantity_ratio={
                    "prerequisite_quantity": spec.buy_quantity,
                    "entitled_quantity": spec.get_quantity,
                },
            )
        return body

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        common.supported_check(self, VENDOR, spec)
        with self._client(connection) as client:
            variants = self.variants_by_sku(client, spec.skus) if spec.skus else {}
            if spec.kind == "amount_off" or spec.min_spend is not None:
                self._shop_currency_check(client, spec.currency)
            variant_ids = sorted({_numeric_id(node["id"]) for nodes in variants.values() for node in nodes})
            if not spec.coupon_codes:
                return self._automatic_publish(client, spec, variant_ids, external_id)
            body = self._rule_body(spec, variant_ids)
            rule_id = None if automatic.is_automatic(external_id) else external_id
            existing = self._rule_get(client, rule_id) if rule_id else None
            with common.rejections(VENDOR, _message, doing=f"save price rule {spec.key} v{spec.version}"):
                if existing is None:
                    data = client.json("POST", "price_rules.json", json={"price_rule": body})
                else:
                    data = client.json(
                        "PUT", f"price_rules/{existing['id']}.json", json={"price_rule": {"id": existing["id"], **body}}
                    )
            rule = (data or {}).get("price_rule") if isinstance(data, dict) else None
            if not isinstance(rule, dict) or "id" not in rule:
                raise BadResponse("Shopify saved the price rule but answered without it.")
            codes = self._codes_sync(client, rule["id"], list(spec.coupon_codes))
            if automatic.is_automatic(external_id):
                automatic.remove(client, str(external_id))  # the promotion got a code: the automatic one goes
            return self._ack(self._rule_get(client, str(rule["id"])), str(rule["id"]), codes)

    def _automatic_publish(
        self, client: VendorClient, spec: PromotionSpec, variant_ids: list[int], external_id: str | None
    ) -> ChannelAck:
        """A promotion without codes: an automatic discount; a price rule it replaces is deleted."""
        existing = automatic.node_get(client, external_id) if automatic.is_automatic(external_id) else None
        node_id = automatic.save(client, spec, variant_ids, existing)
        if external_id and not automatic.is_automatic(external_id):
            with common.rejections(VENDOR, _message, doing="delete the replaced price rule", missing_ok=True):
                client.request("DELETE", f"price_rules/{int(external_id)}.json")
        return automatic.ack(automatic.node_get(client, node_id), node_id)

    def _codes_sync(self, client: VendorClient, rule_id: int, wanted: list[str]) -> list[str]:
        """Make the rule's discount codes exactly `wanted` (Shopify compares codes case-insensitively)."""
        current = self._codes(client, rule_id)
        have = {str(code["code"]).upper(): code for code in current}
        want = {code.upper(): code for code in wanted}
        with common.rejections(VENDOR, _message, doing="save the discount codes"):
            for upper, code in want.items():
                if upper not in have:
                    client.json(
                        "POST", f"price_rules/{rule_id}/discount_codes.json", json={"discount_code": {"code": code}}
                    )
            for upper, code in have.items():
                if upper not in want:
                    client.request("DELETE", f"price_rules/{rule_id}/discount_codes/{code['id']}.json")
        return [str(code["code"]) for code in self._codes(client, rule_id)]

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        """The rule as the shop holds it, with the live offer's terms (its variants' SKUs looked up)."""
        with self._client(connection) as client:
            if automatic.is_automatic(external_id):
                return automatic.ack(automatic.node_get(client, external_id), external_id)
            rule = self._rule_get(client, external_id)
            codes = [str(code["code"]) for code in self._codes(client, rule["id"])] if rule else []
            ack = self._ack(rule, external_id, codes)
            if rule is None:
                return ack
            return replace(ack, offer=self._offer(client, rule, codes))

    def _skus_of(self, client: VendorClient, variant_ids: Sequence[Any]) -> tuple[str, ...]:
        """The SKUs of variant ids; a variant deleted since shows as "variant <id> (deleted)"."""
        ids = [f"gid://shopify/ProductVariant/{int(pk)}" for pk in dict.fromkeys(variant_ids)]
        skus = []
        for part in common.chunks(ids, 250):
            with common.rejections(VENDOR, _message, doing="read the discount's variants"):
                data = client.json(
                    "POST", "graphql.json", json={"query": VARIANT_SKUS_QUERY, "variables": {"ids": list(part)}}
                )
            nodes = ((data or {}).get("data") or {}).get("nodes") if isinstance(data, dict) else None
            if not isinstance(nodes, list) or len(nodes) != len(part):
                raise BadResponse("Shopify GraphQL answered the variant lookup without one node per id.")
            for gid, node in zip(part, nodes, strict=True):
                skus.append(str(node.get("sku") or "") if node else f"variant {_numeric_id(gid)} (deleted)")
        return tuple(sorted(skus))

    def _offer(self, client: VendorClient, rule: Mapping[str, Any], codes: Sequence[str]) -> LiveOffer:
        """The price rule's terms in promotion terms (the inverse of `_rule_body`)."""
        ratio = rule.get("prerequisite_to_entitlement_quantity_ratio") or {}
        bxgy = bool(ratio.get("prerequisite_quantity"))
        if rule.get("target_type") == "shipping_line":
            kind = "free_shipping"
        elif bxgy:
            kind = "buy_x_get_y"
        else:
            kind = "percent_off" if rule.get("value_type") == "percentage" else "amount_off"
        value = Decimal(0) if kind == "free_shipping" else abs(Decimal(str(rule.get("value") or "0")))
        prefix = "prerequisite" if bxgy else "entitled"
        minimum = (rule.get("prerequisite_subtotal_range") or {}).get("greater_than_or_equal_to")
        return LiveOffer(
            kind=kind,
            value=value,
            starts_at=_parse_time(rule.get("starts_at")),
            ends_at=_parse_time(rule.get("ends_at")),
            eligibility={
                "skus": self._skus_of(client, rule.get(f"{prefix}_variant_ids") or []),
                "collections": tuple(str(pk) for pk in rule.get(f"{prefix}_collection_ids") or []),
                "coupon_codes": tuple(codes),
                "min_spend": Decimal(str(minimum)) if minimum not in (None, "") else None,
            },
        )

    def _window_set(
        self, connection: Connection, external_id: str, change: Callable[[dict, common.Tag], dict | None], doing: str
    ) -> ChannelAck:
        """Pause or resume: write what `change` makes of the tagged rule's window (None: nothing to do)."""
        with self._client(connection) as client:
            rule = self._rule_get(client, external_id)
            tag = common.tag_parse(rule.get("title")) if rule else None
            if rule is None or tag is None:
                return self._refuse_untagged(rule, external_id)
            update = change(rule, tag)
            if update is not None:
                with common.rejections(VENDOR, _message, doing=doing):
                    client.json(
                        "PUT", f"price_rules/{rule['id']}.json", json={"price_rule": {"id": rule["id"], **update}}
                    )
                rule = self._rule_get(client, external_id)
            return self._ack(rule, external_id, [str(code["code"]) for code in self._codes(client, int(external_id))])

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        if automatic.is_automatic(external_id):
            return self._automatic_switch(connection, external_id, automatic.pause)
        return self._window_set(connection, external_id, _paused, "pause the price rule")

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        if automatic.is_automatic(external_id):
            return self._automatic_switch(connection, external_id, automatic.resume)
        return self._window_set(connection, external_id, _resumed, "resume the price rule")

    def _automatic_switch(
        self, connection: Connection, external_id: str, change: Callable[[VendorClient, str], None]
    ) -> ChannelAck:
        with self._client(connection) as client:
            change(client, external_id)
            return automatic.ack(automatic.node_get(client, external_id), external_id)

    def _refuse_untagged(self, rule: dict | None, external_id: str) -> ChannelAck:
        if rule is None:
            return self._ack(None, external_id)
        raise ChannelRejected(
            f"Shopify price rule {external_id} was not written by this portal (its title has no promotion tag).",
            detail={"title": rule.get("title")},
        )

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        with self._client(connection) as client:
            if automatic.is_automatic(external_id):
                automatic.remove(client, external_id)
                return automatic.ack(automatic.node_get(client, external_id), external_id)
            with common.rejections(VENDOR, _message, doing="delete the price rule", missing_ok=True):
                client.request("DELETE", f"price_rules/{int(external_id)}.json")
            return self._ack(self._rule_get(client, external_id), external_id)

    # ----------------------------------------------------------------- prices and inventory

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        common.price_now_check(VENDOR, spec)
        with self._client(connection) as client:
            self._shop_currency_check(client, spec.currency)
            variants = self.variants_by_sku(client, list(spec.prices))
            chosen = {sku: self._one_variant(variants, sku) for sku in spec.prices}
            shown: dict[str, Decimal] = {}
            for sku, price in spec.prices.items():
                variant_id = _numeric_id(chosen[sku]["id"])
                amount = str(quantize(price, spec.currency))
                with common.rejections(VENDOR, _message, doing=f"set the price of {sku}"):
                    data = client.json(
                        "PUT", f"variants/{variant_id}.json", json={"variant": {"id": variant_id, "price": amount}}
                    )
                variant = (data or {}).get("variant") if isinstance(data, dict) else None
                if not isinstance(variant, dict) or variant.get("price") is None:
                    raise BadResponse(f"Shopify answered the price update of {sku} without the variant.")
                shown[sku] = quantize(Decimal(str(variant["price"])), spec.currency)
            return shown

    def push_available(
        self, connection: Connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        quantities = {(sku, location): common.whole_quantity(sku, value) for (sku, location), value in levels.items()}
        bad = sorted({location for _sku, location in quantities if not str(location).isdigit()})
        if bad:
            raise ChannelRejected(f"Shopify location ids are numbers: {', '.join(bad)}.", detail={"locations": bad})
        with self._client(connection) as client:
            variants = self.variants_by_sku(client, [sku for sku, _location in quantities])
            items = {
                sku: _numeric_id(self._one_variant(variants, sku)["inventoryItem"]["id"])
                for sku, _location in quantities
            }
            for (sku, location), quantity in quantities.items():
                with common.rejections(VENDOR, _message, doing=f"set the available quantity of {sku} at {location}"):
                    client.json(
                        "POST",
                        "inventory_levels/set.json",
                        json={"location_id": int(location), "inventory_item_id": items[sku], "available": quantity},
                    )
            data = client.get(
                "inventory_levels.json",
                params={
                    "inventory_item_ids": ",".join(str(item) for item in sorted(set(items.values()))),
                    "location_ids": ",".join(sorted({str(location) for _sku, location in quantities})),
                    "limit": 250,
                },
            )
            rows = (data or {}).get("inventory_levels") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise BadResponse("Shopify answered inventory levels without `inventory_levels`.")
            seen = {(int(row["inventory_item_id"]), str(row["location_id"])): row.get("available") for row in rows}
            shown: dict[tuple[str, str], Decimal] = {}
            for sku, location in quantities:
                available = seen.get((items[sku], str(location)))
                if available is None:
                    raise ChannelRejected(
                        f"Shopify does not show {sku} as stocked at location {location} after the update.",
                        detail={"sku": sku, "location_id": location},
                    )
                shown[(sku, location)] = Decimal(int(available))
            return shown
