"""Webhook ack cost benchmark: CPU milliseconds of this process per signed webhook POST, in process.

Creates a scratch database with one tenant and a simulated Shopify connection (as bench/ingest.py),
then POSTs `tests/fixtures/shopify/orders_create.json` renumbered N times, signed, through
django.test.Client (the whole middleware stack, tenant routing, HMAC check, the event's INSERT and
its on-commit work: usage count, wake-up), and prints CPU ms per webhook (`time.process_time`: this
process only, PostgreSQL's and Redis's own CPU are not in it) and wall ms of three stacks, their
rounds alternating in the same process (a loaded machine moves every figure; the order does not):
  - 0: the ack as it was before issue 17's ack work: no webhook bypass, the view's outer transaction
    (a SAVEPOINT pair around the INSERT), the tenant's status read again, and the usage counted by an
    upsert of the tenant's daily row in its transaction (`usage_increment`) instead of in Redis;
  - A: the middleware stack without the webhook bypass (every wrapped middleware runs on /hooks/);
  - B: settings.MIDDLEWARE as it is (portal.middleware.BrowserOnly wrappers skip on /hooks/);
then a cProfile of B's ack (top functions).

Usage: .venv/bin/python bench/ack.py [--webhooks 500] [--rounds 4] [--profile 200] [--keep]
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_parser, own_database, scratch_django
from bench.ingest import SECRET, order_bodies, scenario_create


@contextmanager
def patched(replacements: dict) -> Iterator[None]:
    """Set (module, attribute) to the given values for the block, then put the originals back."""
    originals = {key: getattr(*key) for key in replacements}
    for (module, name), value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for (module, name), value in originals.items():
            setattr(module, name, value)


def unwrapped_middleware(middleware: list[str]) -> list[str]:
    """MIDDLEWARE with every BrowserOnly wrapper replaced by the middleware it wraps."""
    from django.utils.module_loading import import_string  # import here: Django is set up by main()

    out = []
    for path in middleware:
        wrapped = getattr(import_string(path), "wrapped", None)
        out.append(wrapped or path)
    return out


def before_issue_17_ack():
    """Stack 0's ack: connectors.webhooks.event_store as it was called, metering as it was."""
    # import here: Django is set up by main()
    from django.db import connection, transaction

    from connectors import inbox, webhooks
    from tenants.usage import usage_increment

    def store(**kwargs):
        kwargs.pop("suspended", None)  # read again by event_store
        with transaction.atomic():
            return inbox.event_store(**kwargs)

    def count(*, metric: str, amount: int = 1) -> None:
        usage_increment(metric=metric, tenant=connection.tenant, amount=amount)

    return {(webhooks, "event_store"): store, (inbox, "usage_count"): count}


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--webhooks", type=int, default=500, help="webhooks per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of A and of B, alternating")
    parser.add_argument("--profile", type=int, default=200, help="webhooks under cProfile (B)")
    args = parser.parse_args()
    with scratch_django(f"{own_database()}_bench_ack", keep=args.keep):
        _run(args)


def _run(args) -> None:
    # import here: Django is set up by main()
    from django.conf import settings
    from django.test import Client, override_settings

    from connectors.simulator import shopify_signature

    tenant, connection = scenario_create("benchack")
    host = tenant.domains.get(is_primary=True).domain
    total = args.webhooks * args.rounds * 3 + args.profile + 30
    bodies = iter(order_bodies(total))
    hook = f"/hooks/shopify/{connection.pk}/"
    sent = [0]

    def post(client: Client) -> None:
        body = next(bodies)
        sent[0] += 1
        response = client.post(
            hook,
            data=body,
            content_type="application/json",
            HTTP_HOST=host,
            HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(body, SECRET),
            HTTP_X_SHOPIFY_TOPIC="orders/create",
            HTTP_X_SHOPIFY_WEBHOOK_ID=f"bench-{sent[0]}",
            HTTP_X_SHOPIFY_SHOP_DOMAIN="bench-shop.myshopify.com",
        )
        assert response.status_code == 200 and response.json()["status"] == "stored", response.content

    full = unwrapped_middleware(settings.MIDDLEWARE)
    stacks = {"0 before issue 17 ack": full, "A full stack": full, "B webhook bypass": settings.MIDDLEWARE}
    patches = {"0 before issue 17 ack": before_issue_17_ack()}
    clients = {}
    for name, middleware in stacks.items():
        with override_settings(MIDDLEWARE=middleware), patched(patches.get(name, {})):
            clients[name] = Client()
            for _ in range(10):  # builds the client's middleware chain, warms caches
                post(clients[name])
    cpu: dict[str, list[float]] = {name: [] for name in stacks}
    wall: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(args.rounds):
        for name, client in clients.items():
            with patched(patches.get(name, {})):
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(args.webhooks):
                    post(client)
                cpu[name].append((time.process_time() - cpu0) * 1000 / args.webhooks)
                wall[name].append((time.perf_counter() - wall0) * 1000 / args.webhooks)
    print(f"\nack benchmark: {args.webhooks} signed webhooks x {args.rounds} rounds per stack, in process")
    print("| stack | CPU ms / webhook (median of rounds) | wall ms / webhook | rounds (CPU ms) |")
    print("|---|---|---|---|")
    for name in stacks:
        rounds = ", ".join(f"{value:.2f}" for value in cpu[name])
        print(f"| {name} | {statistics.median(cpu[name]):.2f} | {statistics.median(wall[name]):.2f} | {rounds} |")
    if args.profile:
        profiler = cProfile.Profile()
        client = clients["B webhook bypass"]
        profiler.enable()
        for _ in range(args.profile):
            post(client)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
        stats.print_stats(45)
        print(f"\ncProfile of {args.profile} webhooks (B), by cumulative time:\n{out.getvalue()}")


if __name__ == "__main__":
    main()
