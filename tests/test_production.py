"""Production configuration: settings as the container runs them, the image and compose files."""

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

from tests.support.settings import REQUIRED, real_secrets

ROOT = Path(__file__).resolve().parent.parent

SETTINGS_PROBE = """
import json
from django.conf import settings
from django.test import Client
from allauth.account import app_settings as allauth_settings
client = Client()
probe = client.get("/healthz", HTTP_HOST="pay.example.com")
page = client.get("/accounts/login/", HTTP_HOST="pay.example.com")
secure = client.get("/healthz", HTTP_HOST="pay.example.com", secure=True)
print(json.dumps({
    "middleware": settings.MIDDLEWARE,
    "storages": settings.STORAGES,
    "handler_formatter": settings.LOGGING["handlers"]["console"]["formatter"],
    "rate_limits": allauth_settings.RATE_LIMITS,
    "ratelimit_enabled": settings.RATELIMIT_ENABLED,
    "probe": probe.status_code,
    "page": page.status_code,
    "csp": secure.get("Content-Security-Policy", ""),
    "hsts": secure.get("Strict-Transport-Security", ""),
    "xfo": secure.get("X-Frame-Options", ""),
    "debug": settings.DEBUG,
}))
"""


def _production(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE", "STORAGE_BACKEND", "LOG_FORMAT"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "vpos.settings.production",
            "ALLOWED_HOSTS": "pay.example.com",
            **real_secrets(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def production() -> dict:
    result = _production(SETTINGS_PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_serves_hashed_compressed_static_files(production):
    assert production["storages"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    middleware = production["middleware"]
    assert middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") == (
        middleware.index("django.middleware.security.SecurityMiddleware") + 1
    )
    assert production["storages"]["default"]["BACKEND"] == (
        "django.core.files.storage.FileSystemStorage"
    )


def test_production_logs_json_lines(production):
    assert production["handler_formatter"] == "json"


def test_production_rate_limits_are_on(production):
    limits = production["rate_limits"]
    for action in ("login", "login_failed", "signup", "reset_password"):
        assert limits[action], action
    assert production["ratelimit_enabled"] is True


def test_production_security_headers(production):
    assert production["debug"] is False
    # Probes over plain HTTP are not redirected to HTTPS; pages are.
    assert production["probe"] == 200
    assert production["page"] == 301
    assert "frame-ancestors 'none'" in production["csp"]
    assert "max-age=31536000" in production["hsts"]
    assert production["xfo"] == "DENY"


def test_s3_storage_is_chosen_by_environment():
    result = _production(
        "import json; from django.conf import settings; print(json.dumps(settings.STORAGES))",
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME="vpos-media",
        AWS_S3_ENDPOINT_URL="https://s3.example.com",
    )
    assert result.returncode == 0, result.stderr
    default = json.loads(result.stdout.strip().splitlines()[-1])["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "vpos-media"
    assert default["OPTIONS"]["endpoint_url"] == "https://s3.example.com"
    assert default["OPTIONS"]["querystring_auth"] is True


def test_s3_storage_needs_a_bucket():
    result = _production(
        "from django.conf import settings; settings.STORAGES", STORAGE_BACKEND="s3"
    )
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_collectstatic_builds_the_manifest(tmp_path):
    """What the Dockerfile runs: every file a stylesheet refers to must exist. Without WhiteNoise's
    compression (a minute and a half of brotli), which adds nothing to that check."""
    (tmp_path / "manifest_only.py").write_text(
        "from vpos.settings.production import *  # noqa: F403\n"
        "STORAGES = {**STORAGES, 'staticfiles': {'BACKEND': "
        "'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}\n"
    )
    static_root = tmp_path / "static"
    clean = {k: v for k, v in os.environ.items() if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "manifest_only",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
            "STATIC_ROOT": str(static_root),
            **real_secrets(),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["js/checkout.js"]
    assert hashed != "js/checkout.js"
    assert (static_root / hashed).exists()


# --- The image and the compose file ---------------------------------------------------------


def test_dockerfile_builds_a_non_root_gunicorn_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in (
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz-subset0",  # fonts subset by HarfBuzz: fontTools stays unloaded
        "fonts-dejavu-core",
    ):
        assert package in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert "\nUSER vpos\n" in dockerfile
    assert 'CMD ["gunicorn", "--config", "vpos/gunicorn.conf.py", "vpos.wsgi"]' in dockerfile


def test_the_image_has_a_pinned_base_hashed_runtime_packages_and_read_only_code():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "requirements.txt" not in dockerfile.split("COPY requirements.lock")[1].split("\n")[1]
    # The code is root's: only the writable folders are handed to the runtime user.
    assert "--chown" not in dockerfile
    assert "chown -R vpos:vpos /app/media /app/documents /app/var" in dockerfile


def pins(name: str) -> dict[str, str]:
    """`package -> version` of a requirements file (names normalized, extras dropped)."""
    found = re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", (ROOT / name).read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", package).lower(): version for package, version in found}


def test_runtime_requirements_leave_development_tools_out():
    runtime = pins("requirements.txt")
    assert not {"localstripe", "honcho", "aiohttp", "pytest", "ruff", "playwright"} & set(runtime)
    assert {"localstripe", "honcho"} <= set(pins("requirements-dev.txt"))
    assert (ROOT / "requirements-test.txt").read_text().count("-r requirements-dev.txt") == 1


def test_the_lock_pins_the_runtime_set_with_hashes():
    lock = (ROOT / "requirements.lock").read_text()
    assert pins("requirements.lock") == pins("requirements.txt")
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[1].strip())
    assert len(entries) == len(pins("requirements.txt"))
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", "var", ".git"):
        assert entry in ignored


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_web_worker_and_one_beat():
    services = compose()["services"]
    assert {"proxy", "postgres", "redis", "redis-cache", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "vpos", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "vpos", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    # Uploads and receipts are shared by the web server and the worker.
    assert "media:/app/media" in services["web"]["volumes"]
    assert "documents:/app/documents" in services["worker"]["volumes"]
    assert {"media", "documents"} <= set(compose()["volumes"])
    environment = services["worker"]["environment"]
    assert environment["DJANGO_SETTINGS_MODULE"] == "vpos.settings.production"
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_only_the_proxy_is_published_and_forwarded_headers_are_trusted_from_it_alone():
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert sorted(services["proxy"]["ports"]) == ["443:443", "80:80"]
    # The application's port is reachable on the private network only.
    assert "ports" not in services["web"]
    assert services["web"]["expose"] == ["8000"]
    address = services["proxy"]["networks"]["vpos"]["ipv4_address"]
    subnet = compose()["networks"]["vpos"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    web = services["web"]["environment"]
    assert web["FORWARDED_ALLOW_IPS"] == address  # one address: not "*", not the subnet
    assert web["TRUSTED_PROXY_COUNT"] == "1"
    for name in ("web", "worker", "beat"):
        assert services[name]["networks"] == ["vpos"], name
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    directives = [line.strip() for line in caddyfile.splitlines()]
    directives = [line for line in directives if line and not line.startswith("#")]
    # No upstream proxy is trusted: Caddy replaces any X-Forwarded-For a client sends.
    assert not [line for line in directives if "trusted_proxies" in line]
    assert not [line for line in directives if re.match(r"header_up\s+-?X-Forwarded", line, re.I)]
    # Automatic certificates for SITE_DOMAIN, or Caddy's local authority with CADDY_TLS=internal.
    assert "{$SITE_DOMAIN} {" in directives
    assert "tls {$CADDY_TLS}" in directives
    assert "skip_install_trust" in directives
    proxy = services["proxy"]
    assert proxy["environment"]["SITE_DOMAIN"].startswith("${SITE_DOMAIN:?")
    assert proxy["environment"]["CADDY_TLS"].startswith("${CADDY_TLS:?")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert any(volume.endswith(":/data") for volume in proxy["volumes"])  # certificates kept


def redis_option(command: list[str], option: str) -> str | None:
    return command[command.index(option) + 1] if option in command else None


def test_the_broker_never_evicts_and_the_cache_is_bounded_in_another_redis():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        broker, cache = urlsplit(environment["REDIS_URL"]), urlsplit(environment["REDIS_CACHE_URL"])
        assert (broker.hostname, cache.hostname) == ("redis", "redis-cache"), name
        assert {"redis", "redis-cache"} <= set(services[name]["depends_on"]), name
    broker_command = services["redis"]["command"]
    assert redis_option(broker_command, "--maxmemory-policy") == "noeviction"
    assert redis_option(broker_command, "--appendonly") == "yes"  # queued tasks survive a restart
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])
    cache_command = services["redis-cache"]["command"]
    assert redis_option(cache_command, "--maxmemory-policy") == "allkeys-lru"
    assert redis_option(cache_command, "--maxmemory")
    # Nothing on disk for the cache.
    assert redis_option(cache_command, "--appendonly") == "no"
    assert redis_option(cache_command, "--save") == ""
    assert "volumes" not in services["redis-cache"]


def test_the_application_reaches_postgresql_through_pgbouncer_in_transaction_mode():
    services = compose()["services"]
    for name in ("web", "worker", "worker-email", "worker-documents", "worker-webhooks", "beat"):
        environment = services[name]["environment"]
        # (the URL holds ${POSTGRES_PASSWORD:?...}, which urlsplit cannot parse)
        assert environment["DATABASE_URL"].rsplit("@", 1)[1] == "pgbouncer:5432/vpos", name
        assert environment["DATABASE_POOLER"] == "pgbouncer", name  # the settings that mode needs
        assert "pgbouncer" in services[name]["depends_on"], name
    pgbouncer = services["pgbouncer"]
    assert pgbouncer["environment"]["POOL_MODE"] == "transaction"
    assert pgbouncer["environment"]["DB_HOST"] == "postgres"
    assert pgbouncer["environment"]["DB_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "postgres" in pgbouncer["depends_on"]
    # Read-only root: the configuration the image writes at start goes to a tmpfs of its own.
    assert any(mount.startswith("/etc/pgbouncer:") for mount in pgbouncer["tmpfs"])


def seconds(duration: str) -> int:
    """A compose duration: "330s", "6m", "1m30s"."""
    parts = re.findall(r"(\d+)(h|m|s)", duration)
    assert parts, duration
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def test_compose_durations_are_parsed():
    assert [seconds(d) for d in ("330s", "6m", "1m30s", "1h")] == [330, 360, 90, 3600]
    for wrong in ("330", "5 m", "", "1d"):
        with pytest.raises(AssertionError):
            seconds(wrong)


def gunicorn_config(monkeypatch) -> dict:
    """vpos/gunicorn.conf.py's values with no GUNICORN_* variable set (compose sets none), in a
    container: Docker always mounts a /dev/shm, whatever the machine running the tests has."""
    for name in [name for name in os.environ if name.startswith("GUNICORN_")]:
        monkeypatch.delenv(name)
    isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: path == "/dev/shm" or isdir(path))
    path = ROOT / "vpos" / "gunicorn.conf.py"
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    return namespace


# Exact releases: major.minor.patch (PostgreSQL's releases are major.minor), an optional variant
# ("-alpine", "-bookworm"); never "latest" nor a moving "16" or "7.4".
RELEASE = {
    "caddy": r"\d+\.\d+\.\d+",
    "redis": r"\d+\.\d+\.\d+",
    "postgres": r"\d+\.\d+",
    "edoburu/pgbouncer": r"v\d+\.\d+\.\d+",  # and its build, "-p0"
}


def test_services_are_hardened_and_pinned():
    services = compose()["services"]
    for name, service in services.items():
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["read_only"] is True, name
        if name in {"web", "beat"} or name.startswith("worker"):
            assert service["build"] == ".", name  # the Dockerfile's image, never pulled
            continue
        repository, _, tag = service["image"].partition(":")
        assert repository in RELEASE, f"{name}: {service['image']}: which release format?"
        assert re.fullmatch(rf"{RELEASE[repository]}(-[a-z][a-z0-9.]*)?", tag), (
            f"{name}: {service['image']} is not an exact release"
        )


def test_app_services_stop_gracefully_and_write_only_where_they_may(monkeypatch):
    services = compose()["services"]
    gunicorn = gunicorn_config(monkeypatch)
    web, worker, beat = services["web"], services["worker"], services["beat"]
    # Docker waits this long after SIGTERM before SIGKILL: gunicorn finishes requests in flight,
    # the worker (warm shutdown) the tasks it is running.
    assert seconds(web["stop_grace_period"]) > gunicorn["graceful_timeout"]
    assert seconds(worker["stop_grace_period"]) > settings.CELERY_TASK_TIME_LIMIT
    assert seconds(beat["stop_grace_period"]) > 0
    # Read-only root: gunicorn's heartbeat files in /dev/shm (the tmpfs Docker mounts in every
    # container), beat's schedule and the font caches in the /tmp tmpfs.
    assert gunicorn["worker_tmp_dir"] == "/dev/shm"
    assert "/tmp" in beat["tmpfs"]
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    assert any(schedule.startswith(path + "/") for path in beat["tmpfs"]), schedule
    for name in ("web", "worker"):
        assert "/tmp" in services[name]["tmpfs"], name  # XDG_CACHE_HOME: font caches
        assert services[name]["environment"]["XDG_CACHE_HOME"].startswith("/tmp/"), name


def test_the_makefile_installs_the_development_set_and_regenerates_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    run_stamp = re.search(r"^RUN_STAMP := .*req_hash,([^)]*)\)", makefile, re.M).group(1)
    test_stamp = re.search(r"^TEST_STAMP := .*req_hash,([^)]*)\)", makefile, re.M).group(1)
    assert set(run_stamp.split()) == {"requirements.txt", "requirements-dev.txt"}
    assert set(test_stamp.split()) == {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-test.txt",
    }
    recipes = dict(re.findall(r"^(\$\((?:RUN|TEST)_STAMP\)):.*\n\t(.*)", makefile, re.M))
    assert recipes["$(RUN_STAMP)"].endswith(
        "pip install --disable-pip-version-check -r requirements-dev.txt"
    )
    assert recipes["$(TEST_STAMP)"].endswith(
        "pip install --disable-pip-version-check -r requirements-test.txt"
    )
    lock = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes" in lock
    assert "requirements.txt" in lock
    assert "> requirements.lock" in lock


def test_a_cache_of_its_own_is_used_when_configured():
    probe = (
        "import json; from django.conf import settings; print(json.dumps("
        "[settings.CACHES['default']['LOCATION'], settings.CELERY_BROKER_URL]))"
    )
    result = _production(
        probe, REDIS_URL="redis://redis:6379/0", REDIS_CACHE_URL="redis://redis-cache:6379/0"
    )
    assert result.returncode == 0, result.stderr
    cache, broker = json.loads(result.stdout.strip().splitlines()[-1])
    assert (cache, broker) == ("redis://redis-cache:6379/0", "redis://redis:6379/0")
    # Without it (empty or unset), the cache shares the broker's Redis, as before.
    result = _production(probe, REDIS_URL="redis://redis:6379/0", REDIS_CACHE_URL="")
    assert result.returncode == 0, result.stderr
    cache, broker = json.loads(result.stdout.strip().splitlines()[-1])
    assert cache == broker == "redis://redis:6379/0"


def test_gunicorn_config_defaults_and_overrides(monkeypatch):
    import multiprocessing

    path = ROOT / "vpos" / "gunicorn.conf.py"

    def load() -> dict:
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
        return namespace

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    config = load()
    assert config["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert config["timeout"] == 30
    assert "%({x-request-id}o)s" in config["access_log_format"]
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "60")
    monkeypatch.setenv("LOG_FORMAT", "plain")
    config = load()
    assert (config["workers"], config["timeout"]) == (3, 60)
    assert "%({x-request-id}o)s" in config["access_log_format"]


def test_production_requires_owners_to_use_two_factor_authentication():
    probe = "from django.conf import settings; print(settings.OWNERS_REQUIRE_TOTP)"
    on = _production(probe)
    off = _production(probe, OWNERS_REQUIRE_TOTP="false")
    assert on.returncode == off.returncode == 0, on.stderr + off.stderr
    assert on.stdout.strip().splitlines()[-1] == "True"
    assert off.stdout.strip().splitlines()[-1] == "False"


def test_compose_runs_one_worker_per_queue_group_covering_every_queue():
    """Each worker consumes its own queues (so a slow PDF never delays an email); together they
    consume all of them; the documents queue's is the lean documents worker."""
    workers = {
        name: service["command"]
        for name, service in compose()["services"].items()
        if name.startswith("worker")
    }
    queues = {
        name: command[command.index("--queues") + 1].split(",") for name, command in workers.items()
    }
    consumed = [queue for names in queues.values() for queue in names]
    assert sorted(consumed) == sorted(settings.CELERY_QUEUE_NAMES)  # each queue once
    [documents] = [name for name, names in queues.items() if "documents" in names]
    assert workers[documents][:3] == ["celery", "-A", "vpos.documents_worker"]
    assert all(
        workers[name][:3] == ["celery", "-A", "vpos"] for name in workers if name != documents
    )
