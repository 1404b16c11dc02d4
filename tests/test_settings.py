"""Production settings start only with real secrets and pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.settings import REQUIRED, real_secrets

ROOT = Path(__file__).resolve().parent.parent


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


def example_env() -> dict[str, str]:
    """.env.example, as an operator who forgot to fill it in would start with it."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.mark.parametrize(
    ("variable", "named"),
    [
        ("SECRET_KEY", "SECRET_KEY"),
        ("FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY"),
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
        ("STRIPE_PUBLISHABLE_KEY", "STRIPE_PUBLISHABLE_KEY"),
        ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"),
        ("POSTGRES_PASSWORD", "database password"),
    ],
)
def test_production_refuses_the_placeholders_of_env_example(variable, named):
    placeholder = example_env()[variable]
    env = {**real_secrets(), variable: placeholder}
    if variable == "POSTGRES_PASSWORD":
        env = {**real_secrets(), "DATABASE_URL": f"postgres://vpos:{placeholder}@db:5432/vpos"}

    result = _manage("check", **env)

    assert result.returncode != 0
    assert named in result.stderr
    assert "placeholder" in result.stderr


def test_production_refuses_a_malformed_encryption_key_at_start():
    result = _manage(
        "check", SECRET_KEY=secrets.token_urlsafe(60), FIELD_ENCRYPTION_KEY="not-a-fernet-key"
    )

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be Fernet keys" in result.stderr
