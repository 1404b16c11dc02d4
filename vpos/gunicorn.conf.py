"""gunicorn settings: `gunicorn -c vpos/gunicorn.conf.py vpos.wsgi`. Every value can be changed
with an environment variable, so the container image needs no edit.

| variable | default | meaning |
|---|---|---|
| `PORT` | 8000 | port to listen on (all interfaces: the container's network) |
| `WEB_CONCURRENCY` | 2 x CPU cores + 1 | worker processes (gunicorn's rule of thumb for sync workers) |
| `GUNICORN_THREADS` | 1 | threads per worker; >1 switches to the gthread worker |
| `GUNICORN_TIMEOUT` | 30 | seconds a request may take before its worker is killed and restarted |
| `GUNICORN_GRACEFUL_TIMEOUT` | 30 | seconds to finish requests in flight on restart/stop |
| `GUNICORN_KEEPALIVE` | 5 | seconds to hold an idle keep-alive connection (above the proxy's) |
| `GUNICORN_MAX_REQUESTS` | 1000 | recycle a worker after this many requests (+ jitter), bounding leaks |
| `LOG_FORMAT` | json | `json`: access log lines as JSON, like the application's; `plain` |
| `FORWARDED_ALLOW_IPS` | 127.0.0.1 | proxies whose X-Forwarded-* headers gunicorn trusts |

Slow work (PDFs, emails, Stripe reconciliation) runs in Celery workers, so requests are short: a
30 s timeout only ends a stuck worker. The access log carries the X-Request-ID the application
put on the response, the same id as in the application's log records.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Workers' temporary files in memory: a container's /tmp may be a slow overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
if os.environ.get("LOG_FORMAT", "json") == "json":
    # gunicorn does not escape values: the user agent is left out, and a request path with a
    # double quote in it (clients percent-encode them) would make that one line invalid JSON.
    access_log_format = (
        '{"time": "%(t)s", "logger": "gunicorn.access", "request_id": "%({x-request-id}o)s", '
        '"remote": "%({x-forwarded-for}i)s", "method": "%(m)s", "path": "%(U)s", '
        '"status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s}'
    )
else:
    access_log_format = '%(h)s [%({x-request-id}o)s] "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s"'
