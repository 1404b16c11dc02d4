# vpos: one image for web (gunicorn), worker (celery worker) and beat (celery beat).
#   docker build -t vpos .
#   docker compose up -d          (see compose.yaml and docs/deploy.md)
# A pinned tag (Python patch release and Debian release): an upgrade is a reviewed change here.
FROM python:3.11.16-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=vpos.settings.production \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    DOCUMENTS_ROOT=/app/documents \
    PORT=8000

# WeasyPrint (receipt PDFs) needs Pango, HarfBuzz's font subsetter and a font; nothing else is
# native. The translations' .mo files are committed, so gettext is not needed at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 vpos \
    && useradd --system --uid 1000 --gid vpos --home-dir /app --shell /usr/sbin/nologin vpos

WORKDIR /app
# Runtime dependencies only (no localstripe, honcho or test tools: requirements-dev.txt and
# requirements-test.txt), each file checked against its hash (`make lock` writes the lock).
COPY requirements.lock .
RUN pip install --require-hashes --no-deps -r requirements.lock

# The code belongs to root and is read-only for the runtime user: a compromised process cannot
# rewrite the application. Only media, documents and var are writable (below).
COPY . .

# Hashed, compressed static files baked into the image (WhiteNoise serves them). The build-only
# keys exist to satisfy production settings; they are not in the final environment.
RUN SECRET_KEY=build-only-collectstatic-0000000000000000000000000000000000000000 \
    FIELD_ENCRYPTION_KEY=YnVpbGQtb25seS1jb2xsZWN0c3RhdGljLTAwMDAwMDA= \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/media /app/documents /app/var \
    && chown -R vpos:vpos /app/media /app/documents /app/var

USER vpos
EXPOSE 8000

# /healthz, asked with a host name the site answers to (ALLOWED_HOSTS' first); compose.yaml turns
# it off for the worker and beat containers, which run the same image without a web server.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request as u; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); u.urlopen(u.Request('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', headers={'Host': host}), timeout=4)"

CMD ["gunicorn", "--config", "vpos/gunicorn.conf.py", "vpos.wsgi"]
