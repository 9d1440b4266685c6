"""Malformed transport headers are the client's error, never a 500 or an undocumented status."""

from django.test import Client


def test_a_content_length_that_is_not_a_number_is_400(world, make_key):
    key = make_key(scopes=["read"])
    client = Client(HTTP_HOST="northwind.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    api = client.get("/api/v1/tenants/", CONTENT_LENGTH="12,5")
    assert api.status_code == 400
    assert api.json()["error"]["message"] == "Content-Length must be a whole number."
    page = client.get("/accounts/login/", CONTENT_LENGTH="-1")
    assert (page.status_code, page.content) == (400, b"Content-Length must be a whole number.")
    assert client.get("/api/v1/tenants/", CONTENT_LENGTH="0").status_code == 200


def test_an_accept_header_we_cannot_serve_gets_json(world, make_key):
    key = make_key(scopes=["read"])
    client = Client(HTTP_HOST="northwind.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    for accept in ("Accept;", "text/csv", "image/png;q=1"):
        response = client.get("/api/v1/tenants/", HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == "application/json"
