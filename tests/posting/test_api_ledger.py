import csv
import datetime as dt
import io

import pytest
from django_tenants.utils import tenant_context

from posting.exports import ledger_beancount, ledger_csv
from tests.posting.test_exports import _post_everything


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    return api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))


def test_ledger_export_csv_is_the_export_of_the_ledger_page(world, acme_api):
    with tenant_context(world.acme):
        _post_everything()
        expected = ledger_csv()
        march_14 = ledger_csv(start=dt.date(2026, 3, 14), end=dt.date(2026, 3, 14))
    response = acme_api.get("/api/v1/ledger/export/", data={"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ledger-acme.csv"'
    assert response.content.decode() == expected
    rows = list(csv.reader(io.StringIO(expected)))
    assert len(rows) > 10
    dated = acme_api.get("/api/v1/ledger/export/", data={"format": "csv", "start": "2026-03-14", "end": "2026-03-14"})
    assert dated.content.decode() == march_14 != expected


def test_ledger_export_beancount(world, acme_api):
    with tenant_context(world.acme):
        _post_everything()
        expected = ledger_beancount()
    response = acme_api.get("/api/v1/ledger/export/", data={"format": "beancount"})
    assert (response.status_code, response["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert response.content.decode() == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [({"format": "xlsx"}, "format"), ({"start": "2026-03-02", "end": "2026-03-01"}, "end"), ({"start": "x"}, "start")],
)
def test_ledger_export_refuses_bad_queries_as_json_400(world, acme_api, query, field):
    response = acme_api.get("/api/v1/ledger/export/", data=query)
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert list(response.json()["error"]["details"]) == [field]


def test_ledger_export_is_tenant_scoped(world, make_key, api_client, throttle_reset):
    with tenant_context(world.acme):
        _post_everything()
    other = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.bluebird))
    assert other.get("/api/v1/ledger/export/").status_code == 404
    own = api_client(world.host(world.bluebird), make_key(scopes=["read"], tenant=world.bluebird))
    assert own.get("/api/v1/ledger/export/").content.decode().count("\n") == 1  # the header only
