"""The OpenAPI schema and its documentation pages, served without a CDN."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_lists_every_endpoint(client):
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= {
        "/api/v1/links",
        "/api/v1/links/{link_id}",
        "/api/v1/links/{link_id}/deactivate",
        "/api/v1/payments",
        "/api/v1/payments/{payment_id}",
        "/api/v1/payments/{payment_id}/refunds",
        "/api/v1/payments/{payment_id}/capture",
        "/api/v1/payments/{payment_id}/cancel",
        "/api/v1/payments/{payment_id}/receipt",
    }
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_docs_are_served_locally(client):
    for page in ("/api/v1/docs", "/api/v1/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assert "cdn" not in html.lower()
        assert "/static/drf_spectacular_sidecar/" in html


def test_every_operation_documents_its_errors_as_the_error_body(client):
    """What a generated client must expect besides success: the business rules' 400, an outage's
    503, and, where a body is read, 413; all with the one error body."""
    schema = yaml.safe_load(client.get("/api/v1/schema").content)
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            expected = {"400", "401", "404", "429", "503"}
            if operation.get("requestBody"):
                expected.add("413")
            responses = operation["responses"]
            assert expected <= set(responses), (method, path)
            for status in expected:
                assert responses[status]["content"]["application/json"]["schema"] == error


def test_lists_are_documented_as_cursor_pages(client):
    schema = yaml.safe_load(client.get("/api/v1/schema").content)
    for path, item in (("/api/v1/links", "Link"), ("/api/v1/payments", "Payment")):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        page = schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"next", "previous", "results"}
        assert page["properties"]["next"]["nullable"] is True
        assert page["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{item}"}
