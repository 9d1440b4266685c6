"""`manage.py check --deploy` is clean under production settings (DESIGN.md §7).

The check runs in a subprocess with `portal.settings.prod` and only the environment production
requires, so a setting that drifts (HSTS, secure cookies, SSL redirect behind the proxy header) or a
new warning from any app's checks (drf-spectacular's schema warnings included) fails here."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]


def _prod_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.prod",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            # Never contacted: the deploy checks need no database or broker.
            "DATABASE_URL": "postgres://tillbridge@db.invalid:5432/tillbridge",
            "REDIS_URL": "redis://cache.invalid:6379/0",
            "CONNECTOR_CREDENTIAL_KEYS": Fernet.generate_key().decode(),
            "DJANGO_ALLOWED_HOSTS": ".tillbridge.example",
            "PORTAL_PUBLIC_DOMAIN": "tillbridge.example",
        }
    )
    env.update(overrides)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _check_deploy(_prod_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_a_production_setting_drifts():
    """The same command notices a weakened setting, so the test above can fail."""
    result = _check_deploy(_prod_env(SECURE_HSTS_PRELOAD="false"))
    assert result.returncode != 0
    assert "security.W021" in result.stdout + result.stderr


def test_production_settings_redirect_to_https_behind_the_proxy_and_exempt_only_the_health_probe():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, s.SECURE_REDIRECT_EXEMPT,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=BASE_DIR,
        env=_prod_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("True ('HTTP_X_FORWARDED_PROTO', 'https') ['^healthz$'] True True True False")
