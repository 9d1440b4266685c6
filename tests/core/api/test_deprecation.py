"""core.api.deprecation: a deprecated view answers with Deprecation/Sunset/Link headers (RFC 9745,
RFC 8594) and its operation is `deprecated: true` in the schema; other views carry neither."""

from __future__ import annotations

import datetime

from drf_spectacular.generators import SchemaGenerator

from core.api.deprecation import POLICY_URL, Deprecation

PARTNER_HOST = "northwind.localhost"


def test_headers_follow_the_rfcs():
    deprecation = Deprecation(
        since=datetime.date(2026, 12, 7), sunset=datetime.date(2027, 6, 30), successor="/api/v1/audit/"
    )
    assert deprecation.headers() == {
        "Deprecation": "@1796601600",
        "Sunset": "Wed, 30 Jun 2027 00:00:00 GMT",
        "Link": f'</api/v1/audit/>; rel="successor-version", <{POLICY_URL}>; rel="deprecation"',
    }


def test_legacy_audit_endpoint_answers_with_deprecation_headers(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read"]))
    legacy = client.get("/api/v1/audit-events/")
    current = client.get("/api/v1/audit/")
    assert (legacy.status_code, legacy.json()) == (200, current.json())
    assert (legacy["Deprecation"], legacy["Sunset"]) == ("@1796601600", "Wed, 30 Jun 2027 00:00:00 GMT")
    assert 'rel="successor-version"' in legacy["Link"]
    assert "Deprecation" not in current and "Sunset" not in current
    refused = client.get("/api/v1/audit-events/?since=yesterday")
    assert (refused.status_code, refused["Sunset"]) == (400, "Wed, 30 Jun 2027 00:00:00 GMT")


def test_schema_marks_only_the_legacy_operation_deprecated():
    schema = SchemaGenerator(urlconf="portal.urls_public").get_schema(request=None, public=True)
    deprecated = {
        (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("deprecated")
    }
    assert deprecated == {("/api/v1/audit-events/", "get")}
    headers = schema["paths"]["/api/v1/audit-events/"]["get"]["responses"]["200"]["headers"]
    assert {"Deprecation", "Sunset", "Link"} <= set(headers)
