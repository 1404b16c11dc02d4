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
