"""The project's URLs plus the baselines: a bare Django view doing one query, and a bare view
writing one row in one transaction (the cheapest write a request can make)."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

# Created by the benchmarks that use bare_write (bench/api.py), never by a migration.
BARE_WRITE_TABLE = "bench_bare_write"


def bare(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def bare_write(request: HttpRequest) -> HttpResponse:
    """POST: the body as one new row, in the request's transaction (ATOMIC_REQUESTS), 201."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_WRITE_TABLE} (body) VALUES (%s) RETURNING id",  # noqa: S608
            [request.body.decode(errors="replace")],
        )
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


def bare_write_table() -> None:
    """The table bare_write inserts into, empty."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BARE_WRITE_TABLE} (id bigserial PRIMARY KEY, "
            "body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute(f"TRUNCATE {BARE_WRITE_TABLE}")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-write/", bare_write),
    path("", include("vpos.urls")),
]
