"""The ERP's flow-health signal: a push that cannot reach the target starts its unreachable
clock, a refusal of the entry's content does not, and the next acknowledgement stops it."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import httpx
import respx
from django.utils import timezone
from django_tenants.utils import tenant_context

from mappings.services import standard_chart_apply
from posting.erp.health import erp_unreachable
from posting.erp.models import ErpPush, ErpTarget
from posting.erp.services import erp_push_entry, erp_push_retry
from tests.posting.erp.conftest import exchanges
from tests.posting.erp.test_services import BASE, _posted_order, _qbo

Q = exchanges("quickbooks")


def _since():
    return ErpTarget.objects.get().unreachable_since


@respx.mock
def test_unreachable_since_starts_on_a_timeout_and_stops_on_the_next_ack(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise"):
        standard_chart_apply()
        connection = _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").mock(
            side_effect=[httpx.Response(200, json=Q["none"]), httpx.Response(200, json=Q["found"])]
        )
        respx.post(f"{BASE}/journalentry").mock(side_effect=httpx.ReadTimeout("read timed out"))
        before = timezone.now()
        assert erp_push_entry(entry=entry).push.status == ErpPush.Status.FAILED
        since = _since()
        later = since + dt.timedelta(minutes=90)
        measures = erp_unreachable(0, later)
        assert erp_push_retry(entry_id=entry.pk).push.status == ErpPush.Status.ACKED
        cleared = _since()
        quiet = erp_unreachable(0, later)
    assert since >= before
    assert [(m.key, round(m.value), m.label, m.obj) for m in measures] == [
        (f"erp:connection:{connection.pk}", 90, connection.name, connection)
    ]
    assert cleared is None
    assert quiet == []


@respx.mock
def test_a_refused_entry_does_not_make_the_erp_unreachable(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise"):
        standard_chart_apply()
        _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        respx.post(f"{BASE}/journalentry").respond(400, json=Q["closed_period"])
        assert erp_push_entry(entry=entry).push.error_kind == "closed_period"
        assert _since() is None
