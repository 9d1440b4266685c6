"""The URL by role isolation matrix (DESIGN.md §3, §7), generated from the URL confs at test time.

Every route of `portal.urls_tenant` and `portal.urls_public` (the DRF /api/v1 routes included, with
the methods each view implements; a function view is tried with GET and POST) is requested by:

- an anonymous visitor, on the victim's host;
- the admin of another tenant of the same partner and of a tenant of another partner, and another
  partner's staff, each on the victim's host and on their own host with the victim's ids;
- a viewer of the victim tenant, for every write (POST/PUT/PATCH/DELETE).

The victim is a partner and two tenants built for this module (and rolled back after it): one
object of every kind the URLs name, with ids above anything another tenant's schema holds, so an
id in a path exists only in the victim. Each path parameter comes from `KWARG_FIXTURES` (by kwarg
name) or, for the ambiguous `pk`, from `PK_FIXTURES` (by route name). A route with a kwarg in
neither table fails with "add a fixture for kwarg X", so a route added tomorrow is covered (or
fails) the day it is added.

Expectations: anonymous → a redirect to sign-in, 401, 403, 404 or 405; someone else → 403, 404, 405
(or a redirect to sign-in) and never a byte of the victim's data; on their own host, a route naming
the victim's objects never answers 2xx; a viewer's write to the API → 403/404/405; and any write
(a viewer's write to a page included) changes no row of the victim's schema and none of its rows
in public. Nothing may answer 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django_tenants.utils import tenant_context

from tenants import services
from tenants.api_keys import api_key_create
from tenants.models import Membership, Partner, Tenant, UsageRecord, User, WebhookDelivery, WebhookSubscription
from tests.conftest import PASSWORD

# --------------------------------------------------------------------------------------------
# Routes, walked from the URL confs.

CONFS = {"tenant": "portal.urls_tenant", "public": "portal.urls_public"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")
_KWARG_RE = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    conf: str  # "tenant" or "public"
    route: str  # the pattern as written, e.g. "api/v1/promotions/<int:pk>/"
    name: str | None
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]
    regex: bool

    @property
    def api(self) -> bool:
        return self.route.startswith("api/v1/")

    @property
    def label(self) -> str:
        return f"{self.conf}:/{self.route}"


def _methods(callback: Callable) -> tuple[str, ...]:
    if getattr(callback, "cls", None) is not None:  # DRF: the methods the view implements
        cls, candidates = callback.cls, ("get", "post", "put", "patch", "delete")
    elif getattr(callback, "view_class", None) is not None:  # Django's generic views alias PUT to POST
        cls, candidates = callback.view_class, ("get", "post")
    else:  # a function view: its allowed methods are not introspectable, try both
        return ("GET", "POST")
    allowed = [m for m in candidates if hasattr(cls, m) and m in cls.http_method_names]
    return tuple(m.upper() for m in allowed) or ("GET",)


def _walk(patterns, prefix: str = "", kwargs: tuple[str, ...] = (), regex: bool = False) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        is_regex = isinstance(pattern, RegexPattern)
        names = tuple(pattern.regex.groupindex) if is_regex else tuple(getattr(pattern, "converters", {}))
        text = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, text, kwargs + names, regex or is_regex)
        elif isinstance(entry, URLPattern):
            assert isinstance(pattern, RoutePattern | RegexPattern)
            yield Route(
                conf="",
                route=text,
                name=entry.name,
                kwargs=kwargs + names,
                methods=_methods(entry.callback),
                regex=regex or is_regex,
            )


def routes(conf: str) -> list[Route]:
    found = []
    for route in _walk(get_resolver(CONFS[conf]).url_patterns):
        found.append(Route(conf, route.route, route.name, route.kwargs, route.methods, route.regex))
    return found


# --------------------------------------------------------------------------------------------
# The victim: a partner and two tenants of its own, with one object of every kind.

MARKERS = ("quokkavault", "qvmark")  # appear (case-insensitively) only in the victim's data
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ID_FLOOR = 50_000_000  # every id in the victim's schema is above anything another schema holds


@dataclass
class Victim:
    partner: Partner
    tenant: Tenant
    sibling: Tenant  # another tenant of the victim's partner
    admin: User
    viewer: User
    sibling_admin: User
    staff: User  # the victim partner's own admin (approves the victim's promotions)
    ids: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # actor → session key
    public_digest_sql: str = ""

    @property
    def host(self) -> str:
        return self.tenant.domains.get(is_primary=True).domain

    @property
    def console(self) -> str:
        return _domain_of(self.partner)


def _domain_of(owner: Partner | Tenant) -> str:
    # A partner's domains all belong to the public tenant, where django-tenants keeps one primary.
    return owner.domains.order_by("-is_primary", "pk").first().domain


def _bump_sequences(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = %s",
            [schema],
        )
        for (sequence,) in cursor.fetchall():
            cursor.execute("SELECT setval(%s::regclass, %s)", [sequence, ID_FLOOR])


def _first(model, **filters) -> str:
    obj = model.objects.filter(**filters).order_by("pk").first()
    assert obj is not None, f"the victim needs a {model.__name__}"
    assert obj.pk > ID_FLOOR, f"{model.__name__} {obj.pk} may also exist in another schema"
    return str(obj.pk)


def _build_victim(world) -> Victim:
    partner = services.partner_create(
        slug="wombat",
        name="Wombat Partners",  # the brand of its hosts, shown to anyone who visits them
        domain="wombat.localhost",
        support_email="help@wombat.test",
    )
    tenant = services.tenant_create(partner=partner, slug="vault", name="Quokkavault Provisions").tenant
    sibling = services.tenant_create(partner=partner, slug="vault-sibling", name="Sibling Stores").tenant
    admin = services.user_create(email="owner@quokkavault.test", password=PASSWORD, name="QVMARK Owner", verified=True)
    viewer = services.user_create(email="viewer@quokkavault.test", password=PASSWORD, name="Viewer", verified=True)
    sibling_admin = services.user_create(email="admin@sibling.test", password=PASSWORD, name="Sib", verified=True)
    services.membership_grant(user=admin, tenant=tenant, role=Membership.Role.TENANT_ADMIN)
    viewer_membership = services.membership_grant(user=viewer, tenant=tenant, role=Membership.Role.TENANT_VIEWER)
    services.membership_grant(user=sibling_admin, tenant=sibling, role=Membership.Role.TENANT_ADMIN)
    staff = services.user_create(email="staff@wombat.test", password=PASSWORD, name="QVMARK Staff", verified=True)
    services.membership_grant(user=staff, partner=partner, role=Membership.Role.PARTNER_ADMIN)
    victim = Victim(partner, tenant, sibling, admin, viewer, sibling_admin, staff)
    _seed_tenant(victim)
    _seed_public(victim, viewer_membership)
    return victim


def _seed_tenant(victim: Victim) -> None:

    from commerce.models import (
        Fulfilment,
        InventoryLevel,
        InventoryLocation,
        Order,
        Payout,
        Refund,
        Return,
        RoutingRule,
    )
    from connectors.models import Connection, InboundEvent, SyncRun
    from connectors.simulator import demo_traffic_ingest
    from mappings.models import Account, AccountRule, MappingSet
    from mappings.services import standard_chart_ensure
    from portal.demo.commerce import inventory_demo_seed
    from portal.demo.fulfilment import fulfilment_demo_seed
    from portal.demo.posting import ledger_demo_seed
    from portal.demo.promotions import promotions_demo_seed
    from portal.demo.returns import returns_demo_seed
    from portal.demo.triage import exceptions_demo_seed
    from posting.erp.base import ErpChart
    from posting.erp.chart import chart_import_preview
    from posting.erp.models import ChartImport, ErpPush
    from posting.erp.services import erp_target_get
    from posting.models import JournalEntry, PostingBatch
    from promotions.models import PriceList, Promotion, VendorClaim
    from promotions.prices import price_list_create
    from triage.models import Exception as TriageException
    from triage.partner.models import TriageIndex

    with tenant_context(victim.tenant):
        _bump_sequences(victim.tenant.schema_name)
        standard_chart_ensure()
        exceptions_demo_seed(currency="USD", assignee=victim.admin)
        demo_traffic_ingest(orders=2, charges=1)
        ledger_demo_seed(currency="USD", today=dt.date(2026, 2, 1))
        inventory_demo_seed(currency="USD")
        fulfilment_demo_seed(currency="USD")
        returns_demo_seed(currency="USD", approver=victim.admin)
        promotions_demo_seed(author=victim.admin, approver=victim.staff)
        connection_id = _first(Connection)
        entry_id = _first(JournalEntry)
        if not PostingBatch.objects.exists():
            PostingBatch.objects.create(
                window_start=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
                window_end=dt.datetime(2026, 2, 2, tzinfo=dt.UTC),
                currency="USD",
            )
        if not ErpPush.objects.exists():
            ErpPush.objects.create(entry_id=entry_id, target_key="ledger", vendor="ledger", reference="QVMARK-push")
        if not ChartImport.objects.exists():
            chart_import_preview(connection=Connection.objects.get(pk=connection_id), chart=ErpChart(accounts=[]))
        if not SyncRun.objects.exists():
            SyncRun.objects.create(connection_id=connection_id, error="QVMARK run")
        level = InventoryLevel.objects.order_by("pk").first()
        assert level is not None, "the victim needs an inventory level"
        if not PriceList.objects.exists():
            price_list_create(
                key="qv-prices",
                name="QVMARK price list",
                prices={level.sku: "19.99"},
                starts_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                channels=[],
                actor=victim.admin,
            )
        if not VendorClaim.objects.exists():
            VendorClaim.objects.create(
                promotion=Promotion.objects.order_by("pk").first(),
                vendor_ref="QVMARK vendor",
                period_start=dt.date(2026, 2, 1),
                period_end=dt.date(2026, 2, 28),
                currency="USD",
                amount="12.00",
            )
        erp_target_get()  # the singleton a page creates on first read
        # Unique markers on the objects a leak would show first.
        Account.objects.update(name="QVMARK account")
        Connection.objects.update(name="QVMARK connection")
        TriageException.objects.update(title="QVMARK exception")
        TriageIndex.objects.filter(tenant=victim.tenant).update(title="QVMARK exception")
        Promotion.objects.update(name="QVMARK promotion")
        PriceList.objects.update(name="QVMARK price list")
        InventoryLocation.objects.update(name="QVMARK location")
        RoutingRule.objects.update(name="QVMARK routing rule")
        Return.objects.update(name="QVMARK return")
        mapping_set = MappingSet.objects.order_by("pk").first()
        victim.ids.update(
            order=_first(Order),
            refund=_first(Refund),
            entry=entry_id,
            batch=_first(PostingBatch),
            account=_first(Account),
            mapping_set=str(mapping_set.pk),
            rule=_first(AccountRule, mapping_set=mapping_set),
            exception=_first(TriageException),
            connection=connection_id,
            run=_first(SyncRun),
            event=_first(InboundEvent),
            chart_import=_first(ChartImport),
            location=_first(InventoryLocation),
            sku=level.sku,
            price_list=_first(PriceList),
            promotion=_first(Promotion),
            payout=_first(Payout),
            routing_rule=_first(RoutingRule),
            fulfilment=_first(Fulfilment),
            ret=_first(Return),
            claim=_first(VendorClaim),
        )
    connection.set_schema_to_public()


def _seed_public(victim: Victim, viewer_membership: Membership) -> None:
    from triage.partner.services import alert_rule_create

    key = api_key_create(name="QVMARK key", scopes=["read", "write"], tenant=victim.tenant)
    subscription = WebhookSubscription.objects.create(
        partner=victim.partner, url="https://hooks.quokkavault.test/in", events=["exception.opened"], secret="s" * 32
    )
    delivery = WebhookDelivery.objects.create(subscription=subscription, event="exception.opened", payload={})
    rule = alert_rule_create(partner=victim.partner, tenant=victim.tenant, name="QVMARK rule", trigger="new_group")
    UsageRecord.objects.create(
        partner=victim.partner, tenant=victim.tenant, day=dt.date(2026, 2, 1), metric="orders_ingested"
    )
    from tenants.models import DomainVerification

    claim = DomainVerification.objects.create(
        partner=victim.partner, domain="qvmark.quokkavault.test", token="qvmark-token-" + "0" * 20
    )
    authenticator = Authenticator.objects.create(
        user=victim.admin, type=Authenticator.Type.WEBAUTHN, data={"name": "QVMARK key", "credential": {}}
    )
    victim.ids.update(
        api_key=key.api_key.prefix,
        member=str(viewer_membership.pk),
        webhook=str(subscription.pk),
        delivery=str(delivery.pk),
        alert_rule=str(rule.pk),
        authenticator=str(authenticator.pk),
        domain_verification=str(claim.pk),
        tenant_slug=victim.tenant.slug,
    )


# --------------------------------------------------------------------------------------------
# Path parameters: kwarg name → the victim's value. `pk` names a different model per route.

KWARG_FIXTURES: dict[str, Callable[[Victim], str]] = {
    "order_id": lambda v: v.ids["order"],
    "return_id": lambda v: v.ids["ret"],
    "entry_id": lambda v: v.ids["entry"],
    "exception_id": lambda v: v.ids["exception"],
    "connection_id": lambda v: v.ids["connection"],
    "run_id": lambda v: v.ids["run"],
    "event_id": lambda v: v.ids["event"],
    "rule_pk": lambda v: v.ids["rule"],
    "claim_id": lambda v: v.ids["claim"],
    "rule_id": lambda v: v.ids["alert_rule"],
    "channel": lambda v: v.ids["connection"],
    "sku": lambda v: v.ids["sku"],
    "slug": lambda v: v.ids["tenant_slug"],
    "prefix": lambda v: v.ids["api_key"],
    # Not objects: values the route accepts, so the request reaches the object lookups.
    "fmt": lambda v: "csv",
    "kind": lambda v: "order",
    "name": lambda v: "resolve",
    "action": lambda v: "pause",
    "vendor": lambda v: "shopify",
    "path": lambda v: "brand/logos/quokka.png",
    # allauth's tokens: the victim admin's user id with a key that is not valid.
    "uidb36": lambda v: _base36(v.admin.pk),
    "key": lambda v: "invalid-key",
    "plan": lambda v: "starter",
    "token": lambda v: "not-the-hook-token",
}
# The kwargs that are values rather than the victim's objects.
NOT_OBJECTS = {"fmt", "kind", "name", "action", "vendor", "path", "uidb36", "key", "plan", "token"}

PK_FIXTURES: dict[str, str] = {
    "mfa_remove_webauthn": "authenticator",
    "mfa_edit_webauthn": "authenticator",
    "api-member-revoke": "member",
    "api-webhook-detail": "webhook",
    "api-webhook-redeliver": "delivery",
    "api-erp-chart-imports": "connection",
    "api-erp-chart-import": "chart_import",
    "api-erp-chart-import-apply": "chart_import",
    "api-alert-rule-detail": "alert_rule",
    "api-exception-detail": "exception",
    "api-exception-assign": "exception",
    "api-exception-comment": "exception",
    "api-exception-snooze": "exception",
    "api-exception-resolve": "exception",
    "api-exception-ignore": "exception",
    "api-exception-retry": "exception",
    "api-connection-detail": "connection",
    "api-sku-map-refresh": "connection",
    "api-sync-run-detail": "run",
    "api-sync-run-cancel": "run",
    "api-order-detail": "order",
    "api-order-trace": "order",
    "api-refund-detail": "refund",
    "api-event-detail": "event",
    "api-event-replay": "event",
    "api-account-detail": "account",
    "api-mapping-set-detail": "mapping_set",
    "api-mapping-set-activate": "mapping_set",
    "api-mapping-set-preview": "mapping_set",
    "api-mapping-rules": "mapping_set",
    "api-mapping-rule-delete": "mapping_set",
    "api-value-maps": "mapping_set",
    "api-journal-detail": "entry",
    "api-batch-detail": "batch",
    "api-inventory-location": "location",
    "api-inventory-channels": "location",
    "api-inventory-channel": "location",
    "api-price-list-detail": "price_list",
    "api-price-list-channel-prices": "price_list",
    "api-price-list-validate": "price_list",
    "api-price-list-submit": "price_list",
    "api-price-list-approve": "price_list",
    "api-price-list-publish": "price_list",
    "api-price-list-rollback": "price_list",
    "api-price-list-import": "price_list",
    "api-promotion-detail": "promotion",
    "api-promotion-validate": "promotion",
    "api-promotion-submit": "promotion",
    "api-promotion-approve": "promotion",
    "api-promotion-reject": "promotion",
    "api-promotion-publish": "promotion",
    "api-promotion-pause": "promotion",
    "api-promotion-resume": "promotion",
    "api-promotion-rollback": "promotion",
    "api-promotion-continue": "promotion",
    "api-promotion-redemptions": "promotion",
    "api-promotion-redemptions-csv": "promotion",
    "api-promotion-claims": "promotion",
    "api-promotion-claim-export": "promotion",
    "api-promotion-claim-receipts": "promotion",
    "promotions_redemption": "promotion",
    "promotions_claims": "promotion",
    "promotions_claim_export": "promotion",
    "promotions_claim_receipt": "promotion",
    "mappings_account": "account",
    "mappings_set": "mapping_set",
    "mappings_set_preview": "mapping_set",
    "posting_batch": "batch",
    "posting_account_ledger": "account",
    "posting_source": "order",
    "erp_oauth_start": "connection",
    "erp_chart": "connection",
    "inventory_location": "location",
    "fulfilment_rule_edit": "routing_rule",
    "fulfilment_rule_delete": "routing_rule",
    "api-fulfilment-detail": "fulfilment",
    "promotions_price_list": "price_list",
    "promotions_detail": "promotion",
    "promotions_edit": "promotion",
    "promotions_board_fragment": "promotion",
    "promotions_action": "promotion",
    "posting_payout": "payout",
    "posting_payout_recheck": "payout",
    "api-payout-detail": "payout",
    "api-return-detail": "ret",
    "api-return-approve": "ret",
    "api-return-reject": "ret",
    "api-return-receive": "ret",
    "api-return-inspect": "ret",
    "api-domain-verification-detail": "domain_verification",
    "api-domain-verification-check": "domain_verification",
    "partner_domain_check": "domain_verification",
}


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


class MissingFixture(LookupError):
    pass


def kwarg_value(route: Route, kwarg: str, victim: Victim) -> str:
    if kwarg == "pk":
        if route.name not in PK_FIXTURES:
            raise MissingFixture(f"add a fixture for kwarg {kwarg} (route {route.name or route.route}) to PK_FIXTURES")
        return victim.ids[PK_FIXTURES[route.name]]
    if kwarg not in KWARG_FIXTURES:
        raise MissingFixture(f"add a fixture for kwarg {kwarg} (route {route.label}) to KWARG_FIXTURES")
    return KWARG_FIXTURES[kwarg](victim)


def build_path(route: Route, victim: Victim) -> str:
    values = {kwarg: kwarg_value(route, kwarg, victim) for kwarg in route.kwargs}
    if route.regex:  # allauth's regex routes: fill each named group
        text = route.route.replace("^", "").replace("$", "")
        for kwarg, value in values.items():
            text = re.sub(rf"\(\?P<{kwarg}>[^)]*\)", value, text)
        return "/" + text
    return "/" + _KWARG_RE.sub(lambda m: values[m.group(1)], route.route)


# --------------------------------------------------------------------------------------------
# Deliberate exceptions: routes anyone may reach, and why.

PUBLIC_ROUTES = {
    "accounts/": "allauth's sign-in, sign-up, reset and MFA pages act on the signed-in person only",
    "healthz": "load balancer probe: status of database, Redis and worker, no tenant data",
    "media/": "brand logos are shown on the sign-in page; uploads are validated images (issue 13 item 1)",
    "hooks/": "vendor webhook receivers authenticate each request by its HMAC signature",
    "api/v1/schema/": "the OpenAPI description of the API: no tenant data",
}
# Reachable for a viewer's write: the person's own session and MFA (not the tenant's data),
# and the signed webhook receivers.
VIEWER_WRITE_EXEMPT = ("accounts/", "hooks/")


def public_reason(route: Route) -> str | None:
    for prefix, reason in PUBLIC_ROUTES.items():
        if route.route.startswith(prefix):
            return reason
    return None


# The victim's own people: their names and emails are on their own pages.
INSIDERS = ("victim.admin", "victim.viewer")

# Known holes: a case listed here fails strictly until it is closed. None are open: /metrics, the
# last one the matrix found, now answers 404 without its bearer token (tests/security/test_08_*).


def known_hole(route: Route, actor: Actor) -> str | None:
    return None


# --------------------------------------------------------------------------------------------
# Actors.


@dataclass(frozen=True)
class Actor:
    name: str
    user: str | None  # attribute of the world or the victim, None for anonymous
    host: str  # "victim", "victim_console", or an attribute path of the world ("world.bluebird")
    kind: str  # "anonymous", "outsider" (on the victim's host), "own_host", "viewer"


TENANT_ACTORS = (
    Actor("anonymous", None, "victim", "anonymous"),
    Actor("same-partner-tenant-admin@victim", "victim.sibling_admin", "victim", "outsider"),
    Actor("other-partner-tenant-admin@victim", "world.cedar_admin", "victim", "outsider"),
    Actor("other-partner-staff@victim", "world.other_partner_admin", "victim", "outsider"),
    Actor("same-partner-tenant-admin@own-host", "victim.sibling_admin", "victim.sibling", "own_host"),
    Actor("other-partner-tenant-admin@own-host", "world.cedar_admin", "world.cedar", "own_host"),
    Actor("viewer@victim", "victim.viewer", "victim", "viewer"),
)
PUBLIC_ACTORS = (
    Actor("anonymous", None, "victim_console", "anonymous"),
    Actor("other-partner-staff@victim-console", "world.other_partner_admin", "victim_console", "outsider"),
    Actor("victim-tenant-admin@victim-console", "victim.admin", "victim_console", "outsider"),
    Actor("other-partner-staff@own-console", "world.other_partner_admin", "world.southpaw", "own_host"),
    Actor("viewer@victim-console", "victim.viewer", "victim_console", "viewer"),
)


def _cases() -> Iterator[pytest.param]:
    for conf, actors in (("tenant", TENANT_ACTORS), ("public", PUBLIC_ACTORS)):
        for route in routes(conf):
            for method in route.methods:
                for actor in actors:
                    if actor.kind == "viewer" and (method not in WRITES or route.route.startswith(VIEWER_WRITE_EXEMPT)):
                        continue
                    case_id = f"{method} {route.label} as {actor.name}"
                    marks = []
                    hole = known_hole(route, actor)
                    if hole:
                        marks.append(pytest.mark.xfail(strict=True, reason=hole))
                    yield pytest.param(route, method, actor, id=case_id, marks=marks)
        if conf == "public":
            # The partner console routes `/api/v1/tenants/<slug>/<resource>` to that tenant's API.
            for route in routes("tenant"):
                if not route.route.startswith("api/v1/") or route.route.startswith("api/v1/tenants/"):
                    continue
                routed = Route("partner-routed", route.route, route.name, route.kwargs, route.methods, route.regex)
                for method in route.methods:
                    for actor in PUBLIC_ACTORS:
                        if actor.kind == "viewer" and method not in WRITES:
                            continue
                        if actor.user in INSIDERS and actor.kind == "outsider":
                            continue  # the victim's own admin reaches its own tenant's API this way, by design
                        yield pytest.param(routed, method, actor, id=f"{method} {routed.label} as {actor.name}")


CASES = list(_cases())


# --------------------------------------------------------------------------------------------
# Fixtures: one victim per module, inside a transaction rolled back after the module.


_SETUP_FAILED: list[str] = []


@pytest.fixture(scope="module")
def victim(django_db_setup, django_db_blocker) -> Iterator[Victim]:
    from tests.conftest import _WORLD

    if _SETUP_FAILED:  # pytest would rebuild a failed module fixture for every test
        pytest.fail(f"the victim could not be built: {_SETUP_FAILED[0]}")
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            try:
                built = _build_victim(_WORLD)
            except Exception as error:
                _SETUP_FAILED.append(repr(error))
                raise
            for actor in TENANT_ACTORS + PUBLIC_ACTORS:  # sessions outlive each test's rollback
                if actor.user is not None and actor.user not in built.sessions:
                    client = Client()
                    client.force_login(_resolve(_WORLD, built, actor.user), backend=MODEL_BACKEND)
                    built.sessions[actor.user] = client.cookies[settings.SESSION_COOKIE_NAME].value
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            connection.set_schema_to_public()


def _resolve(world, victim: Victim, dotted: str):
    owner, attribute = dotted.split(".", 1)
    return getattr(world if owner == "world" else victim, attribute)


def _host(world, victim: Victim, actor: Actor) -> str:
    if actor.host == "victim":
        return victim.host
    if actor.host == "victim_console":
        return victim.console
    return _domain_of(_resolve(world, victim, actor.host))


def _client(world, victim: Victim, actor: Actor) -> tuple[Client, User | None]:
    client = Client(HTTP_HOST=_host(world, victim, actor))
    if actor.user is None:
        return client, None
    client.cookies[settings.SESSION_COOKIE_NAME] = victim.sessions[actor.user]
    return client, _resolve(world, victim, actor.user)


def _fingerprint(victim: Victim) -> str:
    """Every write to the victim's schema in this transaction (PostgreSQL's per-transaction table
    counters), and a digest of the victim's rows in the public schema."""
    with connection.cursor() as cursor:
        if not victim.public_digest_sql:
            victim.public_digest_sql = _public_digest_sql(cursor, victim)
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables "
            "WHERE schemaname = %s",
            [victim.tenant.schema_name],
        )
        writes = cursor.fetchone()[0]
        cursor.execute(victim.public_digest_sql)
        return f"{writes}:{cursor.fetchone()[0]}"


def _public_digest_sql(cursor, victim: Victim) -> str:
    cursor.execute(
        "SELECT t.table_name, "
        "EXISTS (SELECT 1 FROM information_schema.columns k WHERE k.table_schema = 'public' "
        "AND k.table_name = t.table_name AND k.column_name = 'tenant_id'), "
        "EXISTS (SELECT 1 FROM information_schema.columns k WHERE k.table_schema = 'public' "
        "AND k.table_name = t.table_name AND k.column_name = 'partner_id') "
        "FROM information_schema.tables t WHERE table_type = 'BASE TABLE' AND table_schema = 'public'"
    )
    parts = []
    for table, has_tenant, has_partner in cursor.fetchall():
        if table == "tenants_tenant":
            where = f"t.id = {victim.tenant.pk}"
        elif table == "tenants_partner":
            where = f"t.id = {victim.partner.pk}"
        elif has_tenant:
            where = f"t.tenant_id = {victim.tenant.pk}"
        elif has_partner:
            where = f"t.partner_id = {victim.partner.pk}"
        else:
            continue
        rows = "string_agg(t::text, '|' ORDER BY t::text)"
        parts.append(f'(SELECT md5(coalesce({rows}, \'\')) FROM "public"."{table}" t WHERE {where})')
    return "SELECT md5(concat(" + ", ".join(parts) + "))"


def _send(client: Client, method: str, path: str):
    if path.startswith("/api/"):
        return client.generic(method, path, json.dumps({}) if method in WRITES else "", content_type="application/json")
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, "", content_type="application/x-www-form-urlencoded")


def _to_sign_in(response) -> bool:
    return response.status_code in (301, 302) and "/accounts/login/" in response.get("Location", "")


# --------------------------------------------------------------------------------------------
# The matrix.


@pytest.mark.parametrize(("route", "method", "actor"), CASES)
def test_isolation(route: Route, method: str, actor: Actor, victim: Victim, world) -> None:
    try:
        path = build_path(route, victim)
    except MissingFixture as missing:
        pytest.fail(str(missing))
    if route.conf == "partner-routed":
        path = path.replace("/api/v1/", f"/api/v1/tenants/{victim.tenant.slug}/", 1)
    client, user = _client(world, victim, actor)
    before = _fingerprint(victim) if method in WRITES else None
    response = _send(client, method, path)
    status = response.status_code
    body = response.content.decode("utf-8", "replace").lower()
    where = f"{method} {path} as {actor.name} → {status}"

    if not (route.route == "healthz" and status == 503):  # unhealthy (no worker in this test) is an answer
        assert status < 500, f"{where}: a server error"
    # (A request refused while routing the host never reaches authentication.)
    if user is not None and hasattr(response.wsgi_request, "user") and not path.startswith("/accounts/logout/"):
        assert response.wsgi_request.user == user, f"{where}: the request was not made as {actor.name}"
    for marker in MARKERS:
        if actor.user not in INSIDERS:
            assert marker not in body, f"{where}: the victim's data ({marker!r}) is in the response"
    if before is not None:
        assert _fingerprint(victim) == before, f"{where}: the victim's data changed"

    reason = public_reason(route)
    object_kwargs = [kwarg for kwarg in route.kwargs if kwarg not in NOT_OBJECTS]
    if actor.kind == "anonymous":
        if reason is None:
            assert status in (401, 403, 404, 405) or _to_sign_in(response), f"{where}: anonymous got through"
    elif actor.kind == "outsider":
        if reason is None or route.route.startswith("api/v1/schema/"):
            assert status in (403, 404, 405) or _to_sign_in(response), f"{where}: an outsider got through"
    elif actor.kind == "own_host":
        if object_kwargs and reason is None:
            assert not 200 <= status < 300, f"{where}: the victim's {object_kwargs} answered on another host"
    elif actor.kind == "viewer" and route.api:
        assert status in (403, 404, 405), f"{where}: a viewer may not write"
    # A viewer's write to a page (a function view) is proven harmless by the fingerprint above: a
    # read-only page that does not restrict its methods renders itself for POST.


def test_every_route_kwarg_has_a_fixture(victim: Victim, world) -> None:
    """One list of every kwarg the tables lack (the matrix also fails per route)."""
    missing = []
    for conf in CONFS:
        for route in routes(conf):
            try:
                build_path(route, victim)
            except MissingFixture as error:
                missing.append(str(error))
    assert not missing, "\n".join(missing)


def test_the_matrix_covers_every_route() -> None:
    covered = {(param.values[0].conf, param.values[0].route) for param in CASES}
    for conf in CONFS:
        for route in routes(conf):
            assert (conf, route.route) in covered
    # The DRF API and the partner console are both in it.
    assert ("tenant", "api/v1/promotions/<int:pk>/approve/") in covered
    assert ("public", "usage/") in covered
    # The KPIs: the tenant's API, the partner's roll-up page and API (issue 18).
    assert {("tenant", "api/v1/kpis/"), ("public", "kpis/"), ("public", "api/v1/partner-kpis/")} <= covered
    assert len(CASES) > 1000


def test_the_fingerprint_notices_any_write_to_the_victim(victim: Victim, world) -> None:
    """The matrix's "nothing changed" check can fail: a write in the schema or in public shows."""
    from mappings.models import Account

    before = _fingerprint(victim)
    with tenant_context(victim.tenant):
        Account.objects.filter(pk=victim.ids["account"]).update(name="QVMARK renamed")
    connection.set_schema_to_public()
    in_schema = _fingerprint(victim)
    assert in_schema != before
    Membership.objects.filter(pk=victim.ids["member"]).update(role=Membership.Role.TENANT_ADMIN)
    assert _fingerprint(victim) != in_schema
