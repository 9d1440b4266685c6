"""WooCommerce: promotions as REST v3 coupons, prices and stock through product updates.

- A coupon is one code: the promotion's coupon code, or one made from its key ("PROMO-42").
- The coupon carries the promotion's key and version in `meta_data` (`tillbridge_promotion`,
  `tillbridge_version`) and, for people reading the admin, in its description.
- Pause = coupon status `draft`, resume = `publish` (a draft coupon is refused at checkout).
- WooCommerce coupons have no start date, only `date_expires`. A promotion published more than a
  few minutes before it starts is saved as a draft (read back as "paused"); the promotion services
  resume it at the start, so the channel never discounts early.
- Stock has no locations in WooCommerce core: a product takes one available quantity, whatever the
  location id it was sent under (two locations for one SKU are refused).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from connectors.vendors import common
from connectors.vendors.base import ChannelAck, ChannelAdapter, ChannelRejected, LiveOffer, PriceSpec, PromotionSpec
from connectors.vendors.shopify.channel import generated_code
from connectors.vendors.woocommerce.client import client as vendor_client
from core.http.client import BadResponse, VendorClient
from core.money import quantize

if TYPE_CHECKING:
    from connectors.models import Connection

VENDOR = "WooCommerce"
KEY_META = "tillbridge_promotion"
VERSION_META = "tillbridge_version"
START_TOLERANCE = dt.timedelta(minutes=5)
SKU_CHUNK = 50
BATCH_LIMIT = 100  # WooCommerce's batch endpoints take at most 100 objects


def _message(payload: Any) -> str | None:
    """WordPress REST errors: {"code": "...", "message": "...", "data": {"status": 400}}."""
    if isinstance(payload, dict):
        return payload.get("message") or None
    return None


def _gmt(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat() if moment is not None else None


class WooCommerceChannel(ChannelAdapter):
    vendor = "woocommerce"
    kinds = frozenset({"percent_off", "amount_off", "free_shipping"})
    features = frozenset({"pause", "prices", "inventory"})

    def unsupported(self, spec: PromotionSpec) -> list[str]:
        reasons = super().unsupported(spec)
        if spec.collections:
            reasons.append("WooCommerce has no collections; use product categories")
        bad = [item for item in spec.categories if not str(item).isdigit()]
        if bad:
            reasons.append(f"WooCommerce category ids are numbers: {', '.join(map(str, bad))}")
        if spec.location_ids:
            reasons.append("WooCommerce coupons apply to the whole store, not to chosen locations")
        if len(spec.coupon_codes) > 1:
            reasons.append("a WooCommerce coupon has exactly one code")
        return reasons + common.value_reasons(spec)

    # ----------------------------------------------------------------- plumbing

    def _client(self, connection: Connection) -> VendorClient:
        return vendor_client(connection)

    def _coupon_get(self, client: VendorClient, external_id: str) -> dict | None:
        coupon = common.get_or_none(client, f"coupons/{int(external_id)}")
        if coupon is None:
            return None
        if not isinstance(coupon, dict) or "id" not in coupon:
            raise BadResponse("WooCommerce answered a coupon without its id.")
        return None if coupon.get("status") == "trash" else coupon

    def _ack(self, coupon: dict | None, external_id: str) -> ChannelAck:
        if coupon is None:
            return common.absent(external_id)
        meta = {item.get("key"): item.get("value") for item in coupon.get("meta_data") or [] if isinstance(item, dict)}
        version: int | None = None
        if str(meta.get(VERSION_META, "")).isdigit():
            version = int(meta[VERSION_META])
        else:
            tag = common.tag_parse(coupon.get("description"))
            version = tag.version if tag else None
        state = "active" if coupon.get("status", "publish") == "publish" else "paused"
        return ChannelAck(external_id=str(coupon["id"]), version=version, state=state, raw=coupon)

    def products_by_sku(self, client: VendorClient, skus: Sequence[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, dict] = {}
        for part in common.chunks(wanted, SKU_CHUNK):
            with common.rejections(VENDOR, _message, doing="look up SKUs"):
                products = client.get("products", params={"sku": ",".join(part), "per_page": 100})
            if not isinstance(products, list):
                raise BadResponse("WooCommerce answered the product search with something other than a list.")
            for product in products:
                sku = product.get("sku")
                if sku in part:
                    if sku in found and found[sku]["id"] != product["id"]:
                        raise ChannelRejected(f"WooCommerce has several products with SKU {sku}.", detail={"sku": sku})
                    found[sku] = product
        common.unknown_skus_reject(VENDOR, wanted, found)
        return found

    def _currency_check(self, client: VendorClient, currency: str) -> None:
        data = client.get("data/currencies/current")
        common.store_currency_check(VENDOR, data.get("code") if isinstance(data, dict) else None, currency)

    def _batch_update(self, client: VendorClient, updates: list[dict], *, doing: str) -> dict[int, dict]:
        saved: dict[int, dict] = {}
        errors: list[str] = []
        for part in common.chunks(updates, BATCH_LIMIT):
            with common.rejections(VENDOR, _message, doing=doing):
                data = client.json("POST", "products/batch", json={"update": list(part)})
            rows = data.get("update") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise BadResponse("WooCommerce answered the product batch without `update`.")
            for row in rows:
                if isinstance(row, dict) and row.get("error"):
                    errors.append(f"product {row.get('id')}: {_message(row['error']) or row['error']}")
                elif isinstance(row, dict) and "id" in row:
                    saved[int(row["id"])] = row
        if errors:
            raise ChannelRejected(f"WooCommerce refused to {doing}: {'; '.join(errors)}", detail={"errors": errors})
        return saved

    # ----------------------------------------------------------------- promotions

    def _coupon_body(self, spec: PromotionSpec, product_ids: list[int]) -> dict[str, Any]:
        early = spec.starts_at > timezone.now() + START_TOLERANCE
        body: dict[str, Any] = {
            "code": spec.coupon_codes[0] if spec.coupon_codes else generated_code(spec.key),
            "description": common.tag_title(spec.title, common.Tag(spec.key, spec.version)),
            "individual_use": spec.exclusive,
            "product_ids": product_ids,
            "excluded_product_ids": [],
            "product_categories": [int(item) for item in spec.categories],
            "usage_limit": spec.usage_limit,
            "date_expires_gmt": _gmt(spec.ends_at),
            "minimum_amount": str(quantize(spec.min_spend, spec.currency)) if spec.min_spend is not None else "",
            "free_shipping": spec.kind == "free_shipping",
            "status": "draft" if early else "publish",
            "meta_data": [{"key": KEY_META, "value": spec.key}, {"key": VERSION_META, "value": str(spec.version)}],
        }
        if spec.kind == "percent_off":
            body.update(discount_type="percent", amount=f"{spec.value.normalize():f}")
        elif spec.kind == "amount_off":
            targeted = bool(product_ids or spec.categories)
            body.update(
                discount_type="fixed_product" if targeted else "fixed_cart",
                amount=str(quantize(spec.value, spec.currency)),
            )
        else:  # free_shipping: a zero coupon that grants free shipping
            body.update(discount_type="fixed_cart", amount="0")
        return body

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        common.supported_check(self, VENDOR, spec)
        with self._client(connection) as client:
            products = self.products_by_sku(client, spec.skus) if spec.skus else {}
            if spec.kind == "amount_off" or spec.min_spend is not None:
                self._currency_check(client, spec.currency)
            body = self._coupon_body(spec, sorted({int(product["id"]) for product in products.values()}))
            existing = self._coupon_get(client, external_id) if external_id else None
            with common.rejections(VENDOR, _message, doing=f"save coupon {body['code']} ({spec.key} v{spec.version})"):
                if existing is None:
                    saved = client.json("POST", "coupons", json=body)
                else:
                    saved = client.json("PUT", f"coupons/{existing['id']}", json=body)
            if not isinstance(saved, dict) or "id" not in saved:
                raise BadResponse("WooCommerce saved the coupon but answered without it.")
            return self._ack(self._coupon_get(client, str(saved["id"])), str(saved["id"]))

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        """The coupon as the store holds it, with the live offer's terms (its products' SKUs looked up)."""
        with self._client(connection) as client:
            coupon = self._coupon_get(client, external_id)
            ack = self._ack(coupon, external_id)
            return ack if coupon is None else replace(ack, offer=self._offer(client, coupon))

    def _skus_of(self, client: VendorClient, product_ids: Sequence[Any]) -> tuple[str, ...]:
        """The SKUs of product ids; a product deleted since shows as "product <id> (deleted)"."""
        wanted = [int(pk) for pk in dict.fromkeys(product_ids)]
        found: dict[int, str] = {}
        for part in common.chunks(wanted, SKU_CHUNK):
            with common.rejections(VENDOR, _message, doing="read the coupon's products"):
                products = client.get("products", params={"include": ",".join(map(str, part)), "per_page": 100})
            if not isinstance(products, list):
                raise BadResponse("WooCommerce answered the product lookup with something other than a list.")
            found.update({int(product["id"]): str(product.get("sku") or "") for product in products})
        return tuple(sorted(found.get(pk, f"product {pk} (deleted)") for pk in wanted))

    def _offer(self, client: VendorClient, coupon: Mapping[str, Any]) -> LiveOffer:
        """The coupon's terms in promotion terms (the inverse of `_coupon_body`). A coupon has no
        start date, so the window's start is not reported."""
        amount = Decimal(str(coupon.get("amount") or "0"))
        if coupon.get("free_shipping") and amount == 0:
            kind = "free_shipping"
        else:
            kind = "percent_off" if coupon.get("discount_type") == "percent" else "amount_off"
        expires = coupon.get("date_expires_gmt")
        minimum = Decimal(str(coupon.get("minimum_amount") or "0"))
        return LiveOffer(
            kind=kind,
            value=amount,
            starts_at=None,
            ends_at=dt.datetime.fromisoformat(expires).replace(tzinfo=dt.UTC) if expires else None,
            eligibility={
                "skus": self._skus_of(client, coupon.get("product_ids") or []),
                "categories": tuple(str(pk) for pk in coupon.get("product_categories") or []),
                "coupon_codes": (str(coupon.get("code") or ""),),
                "min_spend": minimum or None,  # WooCommerce shows "0.00" for no minimum
            },
            unreported=frozenset({"starts_at"}),
        )

    def _status_set(self, connection: Connection, external_id: str, status: str) -> ChannelAck:
        with self._client(connection) as client:
            coupon = self._coupon_get(client, external_id)
            if coupon is not None and coupon.get("status") != status:
                with common.rejections(VENDOR, _message, doing=f"set coupon {coupon.get('code')} to {status}"):
                    client.json("PUT", f"coupons/{coupon['id']}", json={"status": status})
                coupon = self._coupon_get(client, external_id)
            return self._ack(coupon, external_id)

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        return self._status_set(connection, external_id, "draft")

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        return self._status_set(connection, external_id, "publish")

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        with self._client(connection) as client:
            with common.rejections(VENDOR, _message, doing=f"delete coupon {external_id}", missing_ok=True):
                client.request("DELETE", f"coupons/{int(external_id)}", params={"force": "true"})
            return self._ack(self._coupon_get(client, external_id), external_id)

    # ----------------------------------------------------------------- prices and inventory

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        common.price_now_check(VENDOR, spec)
        with self._client(connection) as client:
            self._currency_check(client, spec.currency)
            products = self.products_by_sku(client, list(spec.prices))
            updates = [
                {"id": int(products[sku]["id"]), "regular_price": str(quantize(price, spec.currency))}
                for sku, price in spec.prices.items()
            ]
            saved = self._batch_update(client, updates, doing="set prices")
            shown: dict[str, Decimal] = {}
            for sku in spec.prices:
                product = saved.get(int(products[sku]["id"]))
                if product is None or product.get("price") in (None, ""):
                    raise BadResponse(f"WooCommerce did not answer the saved price of {sku}.")
                # `price` is what the shop shows (a running sale price wins over the regular price).
                shown[sku] = quantize(Decimal(str(product["price"])), spec.currency)
            return shown

    def push_available(
        self, connection: Connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        by_sku: dict[str, tuple[str, int]] = {}
        for (sku, location), value in levels.items():
            if sku in by_sku and by_sku[sku][0] != location:
                raise ChannelRejected(
                    f"WooCommerce keeps one stock figure per product; {sku} was sent for locations "
                    f"{by_sku[sku][0]} and {location}.",
                    detail={"sku": sku},
                )
            by_sku[sku] = (location, common.whole_quantity(sku, value))
        with self._client(connection) as client:
            products = self.products_by_sku(client, list(by_sku))
            updates = [
                {"id": int(products[sku]["id"]), "manage_stock": True, "stock_quantity": quantity}
                for sku, (_location, quantity) in by_sku.items()
            ]
            saved = self._batch_update(client, updates, doing="set stock")
            shown: dict[tuple[str, str], Decimal] = {}
            for sku, (location, _quantity) in by_sku.items():
                product = saved.get(int(products[sku]["id"]))
                if product is None or product.get("stock_quantity") is None:
                    raise BadResponse(f"WooCommerce did not answer the saved stock of {sku}.")
                shown[(sku, location)] = Decimal(int(product["stock_quantity"]))
            return shown
