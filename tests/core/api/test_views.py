"""core.api.views: `read_operation` and `write_operation` state in the schema what every read and
every write shares (the errors each may answer with, and a write's Idempotency-Key header);
`attachment` and `json_or_csv` serve a view that answers a file too."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

from core.api.errors import CreatedCursorPagination
from core.views import attachment


def _operation(operation_id: str) -> dict:
    schema = SchemaGenerator(urlconf="portal.urls_tenant").get_schema(request=None, public=True)
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    return next(op for op in operations if op.get("operationId") == operation_id)


def test_write_operation_documents_the_idempotency_key_and_the_write_errors():
    operation = _operation("connections_create")
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert sorted(operation["responses"]) == ["201", "400", "401", "403", "404", "409", "413", "422", "429"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConnectionCreateInputRequest"
    }


def test_write_operation_without_a_body_or_an_output():
    operation = _operation("connections_destroy")
    assert "requestBody" not in operation
    assert sorted(operation["responses"]) == ["204", "400", "401", "403", "404", "409", "413", "422", "429"]
    assert "content" not in operation["responses"]["204"]


def test_read_operation_documents_the_read_errors_and_no_idempotency_key():
    operation = _operation("connections_list")
    assert "Idempotency-Key" not in [p["name"] for p in operation.get("parameters", [])]
    assert sorted(operation["responses"]) == ["200", "400", "401", "403", "404", "429"]


def test_attachment_is_a_named_file_download():
    response = attachment("sku,price\nTEE,19.99\n", filename="prices-2026-12.csv")
    assert (response.content, response["Content-Type"]) == (b"sku,price\nTEE,19.99\n", "text/csv; charset=utf-8")
    assert response["Content-Disposition"] == 'attachment; filename="prices-2026-12.csv"'


def test_json_or_csv_lists_both_bodies_and_the_read_errors():
    operation = _operation("usage_list")  # responses=json_or_csv(UsageOutput(many=True))
    assert operation["responses"]["200"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/PaginatedUsageOutputList"}},
        "text/csv": {"schema": {"type": "string"}},
    }
    assert sorted(operation["responses"]) == ["200", "400", "401", "403", "404", "429"]


def test_a_views_own_ordering_orders_its_cursor_pages():
    class RunsView:
        ordering = ("-queued_at", "-id")

    class AnyView:
        pass

    pagination = CreatedCursorPagination()
    assert pagination.get_ordering(None, None, RunsView()) == ("-queued_at", "-id")
    assert pagination.get_ordering(None, None, AnyView()) == ("-created_at", "-id")


def test_list_and_detail_views_document_their_get_with_their_own_words():
    listed, detail = _operation("journals_list"), _operation("orders_retrieve")
    assert (listed["summary"], listed["description"]) == (
        "List the journal entries, newest first, with their totals and ERP status",
        "List the journal entries, newest first, with their totals and ERP status.",
    )
    assert detail["summary"] == "Read one order"
    assert "cursor" in [p["name"] for p in listed["parameters"]]
    assert "cursor" not in [p["name"] for p in detail.get("parameters", [])]
