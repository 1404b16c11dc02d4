"""Production settings start only with real secrets and pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vpos.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def real_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(60),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_field_encryption_key():
    result = _manage("check", SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode != 0
    assert "Set the FIELD_ENCRYPTION_KEY environment variable" in result.stderr


def test_production_refuses_a_development_secret_key():
    result = _manage(
        "check",
        SECRET_KEY="dev-insecure-" + "x" * 50,
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be a random value" in result.stderr


def test_production_passes_deploy_checks_with_real_secret():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **real_secrets())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
