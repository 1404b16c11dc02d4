# vpos: `make run` starts the whole thing locally, `make test` runs lint and the test suite.
# Everything lives in .venv (created on demand) and var/ (database, broker, uploads, mail).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOT ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# The web server listens on 127.0.0.1:$(PORT); PORT=8001 make run
PORT ?= 8000
LOCALSTRIPE_PORT ?= 8420
# `make run` uses Redis at this URL if a Redis answers PING there, otherwise the embedded
# filesystem broker under var/ (REDIS_URL left unset). REDIS_PROBE_URL=redis://127.0.0.1:1 forces
# the embedded broker. An exported REDIS_URL is used as it is, without probing.
REDIS_PROBE_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=
# Browser tests use Debian's Chromium; `make test` installs it when this file is missing.
CHROMIUM ?= /usr/bin/chromium
# CI runs the PostgreSQL suite through Debian's PgBouncer (.ci/run); installed like Chromium.
PGBOUNCER ?= /usr/sbin/pgbouncer

# Stamps: reinstall only when the requirement files change.
req_hash = $(shell cat $(1) | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-$(call req_hash,requirements.txt requirements-dev.txt)
TEST_STAMP := $(VENV)/.installed-test-$(call req_hash,requirements.txt requirements-dev.txt requirements-test.txt)

# root runs apt-get directly; others through passwordless sudo, if there is one.
APT := $(shell if [ "$$(id -u)" = 0 ]; then echo apt-get; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then echo "sudo -n apt-get"; fi)

.PHONY: help run test lint fmt lock messages compilemessages clean distclean venv venv-test \
        system-test-deps system-run-deps check-redis bench bench-deps bench-report

help:
	@echo "make run              migrate, seed demo data, start web + worker + beat + localstripe"
	@echo "make test             ruff check, ruff format --check, lint-imports, pytest (PYTEST_ARGS=...)"
	@echo "make lint | fmt       ruff check | ruff check --fix + ruff format"
	@echo "make lock             requirements.lock: the runtime pins with hashes (the image installs it)"
	@echo "make messages         update locale/it .po files (django and djangojs)"
	@echo "make compilemessages  build the .mo files (needs gettext's msgfmt)"
	@echo "make bench            benchmarks against PostgreSQL + Redis (prints ratios, see README)"
	@echo "make bench-report     every benchmark, then docs/performance.md (BENCH_REPORT_ARGS=--quick)"
	@echo "make clean            remove caches; make distclean also removes .venv and var/"

# --- virtualenv ------------------------------------------------------------------------------

$(PY):
	@test -n "$(PYTHON_BOOT)" || { echo "python3.11 or python3 is needed" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(VENV) || { rm -rf $(VENV); $(PYTHON_BOOT) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip || echo "(pip not upgraded)"

# The stamp names carry a hash of the requirement files: a change of content reinstalls,
# a mere touch does not.
$(RUN_STAMP): | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-[0-9a-f]*
	touch $@

$(TEST_STAMP): | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements-test.txt
	rm -f $(VENV)/.installed-*
	touch $@ $(RUN_STAMP)

venv: $(RUN_STAMP)
venv-test: $(TEST_STAMP)

# --- run -------------------------------------------------------------------------------------

# Prints the REDIS_URL to use, or nothing. A tiny socket check: redis-cli may not be installed.
define REDIS_PROBE
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
try:
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=0.5) as s:
        s.settimeout(0.5)
        s.sendall(b"PING\r\n")
        ok = s.recv(64).startswith(b"+PONG")
except OSError:
    ok = False
print(sys.argv[1] if ok else "")
endef
export REDIS_PROBE

check-redis:
	@url="$$($(PYTHON_BOOT) -c "$$REDIS_PROBE" "$(REDIS_PROBE_URL)")"; \
	if [ -n "$$url" ]; then echo "Redis answers at $$url"; else echo "no Redis at $(REDIS_PROBE_URL)"; fi

run: $(RUN_STAMP) system-run-deps
	@mkdir -p var
	@if [ -z "$${REDIS_URL:-}" ]; then \
	    REDIS_URL="$$($(PYTHON_BOOT) -c "$$REDIS_PROBE" "$(REDIS_PROBE_URL)")"; \
	fi; \
	if [ -n "$$REDIS_URL" ]; then export REDIS_URL; broker="Redis at $$REDIS_URL"; \
	else unset REDIS_URL; broker="embedded filesystem broker under var/ (no Redis answered at $(REDIS_PROBE_URL))"; fi; \
	export STRIPE_API_BASE="$${STRIPE_API_BASE:-http://127.0.0.1:$(LOCALSTRIPE_PORT)}"; \
	export WEB_PORT="$(PORT)" LOCALSTRIPE_PORT="$(LOCALSTRIPE_PORT)" PYTHONUNBUFFERED=1; \
	export SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}"; \
	export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	python manage.py migrate --noinput; \
	if command -v msgfmt >/dev/null 2>&1; then \
	    python manage.py compilemessages --ignore=.venv --ignore=var --ignore=node_modules -v 0; \
	else echo "gettext's msgfmt not found: using the committed .mo files"; fi; \
	python manage.py seed_demo; \
	echo; \
	echo "================================================================================"; \
	echo " vpos:        http://127.0.0.1:$(PORT)/"; \
	echo " localstripe: $$STRIPE_API_BASE   (Stripe test mode, offline)"; \
	echo " broker:      $$broker"; \
	echo " Demo logins: see above. Ctrl-C stops everything."; \
	echo "================================================================================"; \
	echo; \
	exec honcho start -f Procfile.dev -p $(PORT)

# --- test ------------------------------------------------------------------------------------

# Debian packages the tests use: chromium (browser tests), gettext (compilemessages; optional),
# pgbouncer (.ci/run puts it between the suite and PostgreSQL).
# WeasyPrint (receipt PDFs) needs Pango and a font, for `make run` and `make test` alike, and
# subsets fonts with HarfBuzz's subsetter (without it, with fontTools: slower, and 10 MiB more in
# the documents worker, vpos/deferred.py).
PDF_DEPS_CHECK = ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || missing="$$missing libharfbuzz-subset0"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core";

system-run-deps:
	@missing=""; $(PDF_DEPS_CHECK) \
	if [ -n "$$missing" ] && [ -n "$(APT)" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing \
	        || echo "WARNING: could not install$$missing: receipt PDFs will fail" >&2; \
	elif [ -n "$$missing" ]; then \
	    echo "WARNING: missing$$missing (install them for receipt PDFs)" >&2; \
	fi

system-test-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	[ -x "$(PGBOUNCER)" ] || missing="$$missing pgbouncer"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	$(PDF_DEPS_CHECK) \
	if [ -n "$$missing" ]; then \
	    if [ -n "$(APT)" ]; then \
	        echo "installing Debian packages:$$missing"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing \
	            || echo "WARNING: could not install$$missing" >&2; \
	    else \
	        echo "WARNING: missing$$missing and no root/sudo for apt-get: browser tests will be skipped, .ci/run needs pgbouncer" >&2; \
	    fi; \
	fi

# Benchmarks print ratios against a baseline measured in the same run (see README).
bench-deps: $(TEST_STAMP) system-run-deps
	@command -v wrk >/dev/null 2>&1 || { [ -n "$(APT)" ] && $(APT) install -y -qq wrk; }

bench: bench-deps
	$(PY) bench/checkout.py
	$(PY) bench/notifications.py
	$(PY) bench/receipts.py
	$(PY) bench/backoffice.py
	$(PY) bench/load.py
	$(PY) bench/api.py
	$(PY) bench/payflow.py
	$(PY) bench/twonode.py
	$(PY) bench/finalize.py

# All of them with their figures written to docs/performance.md (about 25 minutes, more on the
# first run, which seeds the 1,000,000-payment shops). --quick: a smoke run, to var/bench/quick/.
BENCH_REPORT_ARGS ?=
bench-report: bench-deps
	$(PY) bench/report.py $(BENCH_REPORT_ARGS)

test: $(TEST_STAMP) system-test-deps
	@mkdir -p var
	@status=0; \
	echo "+ ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "+ ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "+ lint-imports"; $(BIN)/lint-imports --no-cache || status=1; \
	echo "+ pytest $(PYTEST_ARGS)"; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	exit $$status

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

fmt: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The production image installs requirements.lock with `pip install --require-hashes --no-deps`:
# the pins of requirements.txt with the hash of every file PyPI has for them. Run after changing
# requirements.txt (pip-tools runs in a throwaway virtualenv; tests/test_production.py checks that
# the two files agree).
LOCK_VENV := $(VENV)/lock-tools
lock: $(RUN_STAMP)
	@test -x $(LOCK_VENV)/bin/pip-compile || { $(PY) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q pip-tools==7.7.0; }
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-header --no-emit-index-url --no-emit-find-links --output-file requirements.lock.new requirements.txt
	{ echo "# The runtime set of requirements.txt with every file's hash: what the production image installs"; \
	  echo "# (pip install --require-hashes --no-deps -r requirements.lock). Regenerate with \`make lock\`."; \
	  echo; cat requirements.lock.new; } > requirements.lock
	rm -f requirements.lock.new

# --- translations ----------------------------------------------------------------------------

I18N_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=staticfiles --ignore=tests

messages: $(RUN_STAMP)
	$(PY) manage.py makemessages -l it -d django $(I18N_IGNORE)
	$(PY) manage.py makemessages -l it -d djangojs $(I18N_IGNORE)

compilemessages: $(RUN_STAMP)
	$(PY) manage.py compilemessages $(I18N_IGNORE)

# --- housekeeping ----------------------------------------------------------------------------

clean:
	find . -path ./.venv -prune -o -type d -name __pycache__ -print0 | xargs -0r rm -rf
	rm -rf .pytest_cache .ruff_cache .hypothesis staticfiles htmlcov .coverage

distclean: clean
	rm -rf $(VENV) var
