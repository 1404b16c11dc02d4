"""/healthz answers without touching anything; /readyz names the part that is not ready."""

from unittest import mock

import pytest
from django.db import OperationalError, connection

from vpos import views

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_without_any_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_while_the_database_is_down(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 200


def test_readyz_checks_database_cache_and_storage(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "storage": "ok"}


def test_readyz_concurrent_probes_do_not_clash(client):
    """Another worker's probe landing between our write and our read must not make us 503."""
    real_get = views.cache.get
    interleaved = []

    def get_after_another_probe(key, *args, **kwargs):
        if not interleaved:
            interleaved.append(key)
            views._check_cache()
        return real_get(key, *args, **kwargs)

    with mock.patch.object(views.cache, "get", side_effect=get_after_another_probe):
        response = client.get("/readyz")
    assert interleaved
    assert response.status_code == 200
    assert response.json()["cache"] == "ok"


def test_readyz_503_when_the_database_is_down(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("db is down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "error: OperationalError"
    assert body["cache"] == body["storage"] == "ok"
    assert "db is down" not in response.content.decode()  # details go to the log only


def test_readyz_503_when_redis_is_unreachable(client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["cache"].startswith("error: ")
    assert body["database"] == body["storage"] == "ok"


def test_readyz_503_when_media_storage_is_not_writable(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = str(blocker / "media")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["storage"].startswith("error: ")
