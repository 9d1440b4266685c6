"""Shopify automatic discounts (no code) through the Admin GraphQL API: a promotion without coupon
codes is a `discountAutomaticBasic` (percent or amount off), `discountAutomaticBxgy` or
`discountAutomaticFreeShipping` rather than a REST price rule, which applies only through codes.

- The channel object's id is the node's global id (`gid://shopify/DiscountAutomaticNode/…`), which
  is how the channel tells an automatic discount from a price rule (a number).
- The title carries the promotion tag like a price rule's. Pause writes the real window into the
  tag, then `discountAutomaticDeactivate` (which ends the discount now); resume runs
  `discountAutomaticActivate` and writes the window back from the tag.
- A `userErrors` answer is the channel's refusal: `ChannelRejected` with Shopify's own words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.vendors import common
from connectors.vendors.base import ChannelAck, ChannelRejected, LiveOffer, PromotionSpec
from core.http.client import BadResponse, RateLimited, VendorClient
from core.money import quantize

VENDOR = "Shopify"
NODE_PREFIX = "gid://shopify/DiscountAutomaticNode/"

# kind -> (GraphQL type of the discount, mutation stem, argument name of its input)
KINDS: dict[str, tuple[str, str, str]] = {
    "percent_off": ("DiscountAutomaticBasic", "discountAutomaticBasic", "automaticBasicDiscount"),
    "amount_off": ("DiscountAutomaticBasic", "discountAutomaticBasic", "automaticBasicDiscount"),
    "buy_x_get_y": ("DiscountAutomaticBxgy", "discountAutomaticBxgy", "automaticBxgyDiscount"),
    "free_shipping": (
        "DiscountAutomaticFreeShipping",
        "discountAutomaticFreeShipping",
        "freeShippingAutomaticDiscount",
    ),
}
_INPUTS = {
    "automaticBasicDiscount": "DiscountAutomaticBasicInput",
    "automaticBxgyDiscount": "DiscountAutomaticBxgyInput",
    "freeShippingAutomaticDiscount": "DiscountAutomaticFreeShippingInput",
}

_ITEMS = """
fragment Items on DiscountItems {
  __typename
  ... on AllDiscountItems { allItems }
  ... on DiscountProducts { productVariants(first: 250) { nodes { id sku } } }
  ... on DiscountCollections { collections(first: 250) { nodes { id } } }
}
"""
_MINIMUM = "minimumRequirement { ... on DiscountMinimumSubtotal { greaterThanOrEqualToSubtotal { amount } } }"
NODE_QUERY = (
    """
query AutomaticDiscount($id: ID!) {
  automaticDiscountNode(id: $id) {
    id
    automaticDiscount {
      __typename
      ... on DiscountAutomaticBasic {
        title status startsAt endsAt MINIMUM
        customerGets {
          value {
            ... on DiscountPercentage { percentage }
            ... on DiscountAmount { amount { amount } appliesOnEachItem }
          }
          items { ...Items }
        }
      }
      ... on DiscountAutomaticBxgy {
        title status startsAt endsAt
        customerBuys { value { ... on DiscountQuantity { quantity } } items { ...Items } }
        customerGets {
          value {
            ... on DiscountOnQuantity { quantity { quantity } effect { ... on DiscountPercentage { percentage } } }
          }
          items { ...Items }
        }
      }
      ... on DiscountAutomaticFreeShipping { title status startsAt endsAt MINIMUM }
    }
  }
}
""".replace("MINIMUM", _MINIMUM)
    + _ITEMS
)
_SAVE = """
mutation Save(%(args)s) {
  %(name)s(%(call)s) {
    automaticDiscountNode { id }
    userErrors { field code message }
  }
}
"""
_SWITCH = """
mutation Switch($id: ID!) {
  %(name)s(id: $id) {
    automaticDiscountNode { id }
    userErrors { field code message }
  }
}
"""
DELETE_MUTATION = """
mutation Delete($id: ID!) {
  discountAutomaticDelete(id: $id) {
    deletedAutomaticDiscountId
    userErrors { field code message }
  }
}
"""


def is_automatic(external_id: str | None) -> bool:
    return bool(external_id) and str(external_id).startswith(NODE_PREFIX)


def save_mutation(kind: str, *, update: bool) -> tuple[str, str, str]:
    """(query, mutation name, input argument) that creates or updates an automatic discount of `kind`."""
    _type, stem, argument = KINDS[kind]
    name = f"{stem}{'Update' if update else 'Create'}"
    args = f"${argument}: {_INPUTS[argument]}!" + (", $id: ID!" if update else "")
    call = f"{argument}: ${argument}" + (", id: $id" if update else "")
    return _SAVE % {"args": args, "name": name, "call": call}, name, argument


def _errors_text(errors: Sequence[Any]) -> str:
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        field = ".".join(str(part) for part in error.get("field") or [])
        message = str(error.get("message") or error.get("code") or "refused")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def graphql(client: VendorClient, query: str, variables: Mapping[str, Any], *, doing: str) -> dict[str, Any]:
    """POST one GraphQL operation; top-level errors and throttling raised, the `data` object returned."""
    with common.rejections(VENDOR, lambda payload: _errors_text(payload.get("errors") or []), doing=doing):
        answer = client.json("POST", "graphql.json", json={"query": query, "variables": dict(variables)})
    if not isinstance(answer, dict):
        raise BadResponse("Shopify GraphQL answered something other than an object.")
    if answer.get("errors"):
        errors = [error for error in answer["errors"] if isinstance(error, dict)]
        codes = {str((error.get("extensions") or {}).get("code")) for error in errors}
        if "THROTTLED" in codes:
            raise RateLimited("Shopify GraphQL is throttled; the cost budget refills within seconds.")
        raise ChannelRejected(f"Shopify refused to {doing}: {_errors_text(answer['errors'])}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise BadResponse("Shopify GraphQL answered without `data`.")
    return data


def mutate(client: VendorClient, query: str, name: str, variables: Mapping[str, Any], *, doing: str) -> dict:
    """Run a mutation; its `userErrors` become a ChannelRejected carrying Shopify's words."""
    payload = graphql(client, query, variables, doing=doing).get(name)
    if not isinstance(payload, dict):
        raise BadResponse(f"Shopify GraphQL answered without `{name}`.")
    errors = payload.get("userErrors") or []
    if errors:
        message = _errors_text(errors)
        raise ChannelRejected(
            f"Shopify refused to {doing}: {message}", detail={"vendor_message": message, "user_errors": errors}
        )
    return payload


def node_get(client: VendorClient, node_id: str) -> dict | None:
    """The automatic discount (its `automaticDiscount` with the node id added), None when not there."""
    data = graphql(client, NODE_QUERY, {"id": node_id}, doing="read the automatic discount")
    node = data.get("automaticDiscountNode")
    if not node:
        return None
    discount = node.get("automaticDiscount")
    if not isinstance(discount, dict):
        raise BadResponse("Shopify answered an automatic discount node without `automaticDiscount`.")
    return {**discount, "id": node["id"]}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _variant_gid(variant_id: int) -> str:
    return f"gid://shopify/ProductVariant/{int(variant_id)}"


def _items(spec: PromotionSpec, variants: Sequence[str], previous: Sequence[str]) -> dict[str, Any]:
    """What the discount applies to: the variants (those no longer in scope removed on an update),
    the collections, or every item."""
    if variants:
        removed = sorted(set(previous) - set(variants))
        products: dict[str, Any] = {"productVariantsToAdd": list(variants)}
        if removed:
            products["productVariantsToRemove"] = removed
        return {"products": products}
    if spec.collections:
        return {"collections": {"add": [f"gid://shopify/Collection/{int(pk)}" for pk in spec.collections]}}
    return {"all": True}


def _minimum(spec: PromotionSpec) -> dict[str, Any] | None:
    if spec.min_spend is None:
        return None
    return {"subtotal": {"greaterThanOrEqualToSubtotal": str(quantize(spec.min_spend, spec.currency))}}


def _fraction(percent: Decimal) -> float:
    """Shopify's percentage is a fraction of 1 (15 % is 0.15)."""
    return float(percent / Decimal(100))


def discount_input(
    spec: PromotionSpec, variant_ids: Sequence[int], *, previous: Sequence[str] = (), title: str | None = None
) -> dict[str, Any]:
    """The DiscountAutomatic*Input of `spec` (the inverse of `offer`)."""
    variants = [_variant_gid(pk) for pk in variant_ids]
    body: dict[str, Any] = {
        "title": title or common.tag_title(spec.title, common.Tag(spec.key, spec.version)),
        "startsAt": _iso(spec.starts_at),
        "endsAt": _iso(spec.ends_at),
    }
    shared = {"productDiscounts": not spec.exclusive, "orderDiscounts": not spec.exclusive}
    if spec.kind == "free_shipping":
        body.update(destination={"all": True}, minimumRequirement=_minimum(spec), combinesWith=shared)
        return body
    items = _items(spec, variants, previous)
    body["combinesWith"] = {**shared, "shippingDiscounts": not spec.exclusive}
    if spec.kind == "buy_x_get_y":
        effect = {"percentage": _fraction(spec.value or Decimal(100))}
        body["customerBuys"] = {"value": {"quantity": str(spec.buy_quantity)}, "items": items}
        body["customerGets"] = {
            "value": {"discountOnQuantity": {"quantity": str(spec.get_quantity), "effect": effect}},
            "items": items,
        }
        return body
    if spec.kind == "percent_off":
        value: dict[str, Any] = {"percentage": _fraction(spec.value)}
    else:  # amount_off: off each targeted item, else once across the order
        targeted = bool(variants or spec.collections)
        value = {"discountAmount": {"amount": str(quantize(spec.value, spec.currency)), "appliesOnEachItem": targeted}}
    body.update(customerGets={"value": value, "items": items}, minimumRequirement=_minimum(spec))
    return body


def variants_of(discount: Mapping[str, Any]) -> list[str]:
    """The variant ids (global) the discount targets now: what an update must remove if left out."""
    side = discount.get("customerBuys") if discount.get("__typename") == "DiscountAutomaticBxgy" else None
    items = ((side or discount.get("customerGets") or {}).get("items")) or {}
    return [str(node["id"]) for node in ((items.get("productVariants") or {}).get("nodes") or [])]


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _eligibility(items: Mapping[str, Any], minimum: Any) -> dict[str, Any]:
    variants = (items.get("productVariants") or {}).get("nodes") or []
    collections = (items.get("collections") or {}).get("nodes") or []
    subtotal = ((minimum or {}).get("greaterThanOrEqualToSubtotal") or {}).get("amount")
    return {
        "skus": tuple(sorted(str(node.get("sku") or "") for node in variants)),
        "collections": tuple(sorted(str(node["id"]).rpartition("/")[2] for node in collections)),
        "coupon_codes": (),
        "min_spend": Decimal(str(subtotal)) if subtotal not in (None, "") else None,
    }


def offer(discount: Mapping[str, Any]) -> LiveOffer:
    """The automatic discount's terms in promotion terms."""
    typename = discount.get("__typename")
    window = {"starts_at": _time(discount.get("startsAt")), "ends_at": _time(discount.get("endsAt"))}
    if typename == "DiscountAutomaticFreeShipping":
        eligibility = _eligibility({}, discount.get("minimumRequirement"))
        return LiveOffer(kind="free_shipping", value=Decimal(0), eligibility=eligibility, **window)
    gets = discount.get("customerGets") or {}
    value = gets.get("value") or {}
    if typename == "DiscountAutomaticBxgy":
        percentage = ((value.get("effect") or {}).get("percentage")) or 0
        buys = discount.get("customerBuys") or {}
        return LiveOffer(
            kind="buy_x_get_y",
            value=(Decimal(str(percentage)) * 100).normalize(),
            eligibility=_eligibility(buys.get("items") or {}, None),
            **window,
        )
    if "percentage" in value:
        kind, amount = "percent_off", (Decimal(str(value["percentage"])) * 100).normalize()
    else:
        kind, amount = "amount_off", Decimal(str((value.get("amount") or {}).get("amount") or "0"))
    return LiveOffer(
        kind=kind,
        value=amount,
        eligibility=_eligibility(gets.get("items") or {}, discount.get("minimumRequirement")),
        **window,
    )


def ack(discount: Mapping[str, Any] | None, node_id: str) -> ChannelAck:
    if discount is None:
        return common.absent(node_id)
    found = common.tagged_ack(node_id, discount.get("title"), dict(discount))
    return ChannelAck(found.external_id, found.version, found.state, found.raw, offer(discount))


def save(client: VendorClient, spec: PromotionSpec, variant_ids: Sequence[int], existing: Mapping | None) -> str:
    """Create the automatic discount, or update `existing` when it is of the same type; the node id."""
    same_type = existing is not None and existing.get("__typename") == KINDS[spec.kind][0]
    query, name, argument = save_mutation(spec.kind, update=same_type)
    body = discount_input(spec, variant_ids, previous=variants_of(existing) if same_type else ())
    variables: dict[str, Any] = {argument: body}
    if same_type:
        variables["id"] = existing["id"]
    doing = f"save automatic discount {spec.key} v{spec.version}"
    node = mutate(client, query, name, variables, doing=doing).get("automaticDiscountNode") or {}
    if not node.get("id"):
        raise BadResponse(f"Shopify answered {name} without the discount's id.")
    if existing is not None and not same_type:
        # Another kind of discount (percent became free shipping): the old one goes.
        remove(client, str(existing["id"]))
    return str(node["id"])


def remove(client: VendorClient, node_id: str) -> None:
    if node_get(client, node_id) is None:
        return  # already gone: removing it is done
    mutate(client, DELETE_MUTATION, "discountAutomaticDelete", {"id": node_id}, doing="delete the automatic discount")


def pause(client: VendorClient, node_id: str) -> None:
    """Keep the real window in the tag, then deactivate (nothing when already paused)."""
    discount = _tagged(client, node_id)
    if discount is None:
        return
    tag = common.tag_parse(discount["title"])
    if tag.paused:
        return
    attrs = {"starts": discount.get("startsAt") or "open", "ends": discount.get("endsAt") or "open"}
    title = common.tag_title(discount["title"], common.Tag(tag.key, tag.version, True, attrs))
    query, name, argument = _title_mutation(discount)
    mutate(client, query, name, {"id": node_id, argument: {"title": title}}, doing="pause the automatic discount")
    _switch(client, node_id, active=False)


def resume(client: VendorClient, node_id: str) -> None:
    """Activate, then write back the window the tag kept (nothing when not paused)."""
    discount = _tagged(client, node_id)
    if discount is None:
        return
    tag = common.tag_parse(discount["title"])
    if not tag.paused:
        return
    _switch(client, node_id, active=True)
    starts, ends = tag.attrs.get("starts", "open"), tag.attrs.get("ends", "open")
    update: dict[str, Any] = {
        "title": common.tag_title(discount["title"], common.Tag(tag.key, tag.version)),
        "endsAt": None if ends == "open" else ends,
    }
    if starts != "open":
        update["startsAt"] = starts
    query, name, argument = _title_mutation(discount)
    mutate(client, query, name, {"id": node_id, argument: update}, doing="resume the automatic discount")


def _switch(client: VendorClient, node_id: str, *, active: bool) -> None:
    """Activate or deactivate the automatic discount (Shopify has one mutation for each)."""
    name, verb = ("discountAutomaticActivate", "activate") if active else ("discountAutomaticDeactivate", "deactivate")
    mutate(client, _SWITCH % {"name": name}, name, {"id": node_id}, doing=f"{verb} the automatic discount")


def _title_mutation(discount: Mapping[str, Any]) -> tuple[str, str, str]:
    kind = {
        "DiscountAutomaticBxgy": "buy_x_get_y",
        "DiscountAutomaticFreeShipping": "free_shipping",
    }.get(str(discount.get("__typename")), "percent_off")
    return save_mutation(kind, update=True)


def _tagged(client: VendorClient, node_id: str) -> dict | None:
    """The discount when it carries the promotion tag; None when gone; refused when untagged."""
    discount = node_get(client, node_id)
    if discount is None:
        return None
    if common.tag_parse(discount.get("title")) is None:
        raise ChannelRejected(
            f"Shopify automatic discount {node_id} was not written by this portal (its title has no promotion tag).",
            detail={"title": discount.get("title")},
        )
    return discount
