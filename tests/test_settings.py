"""Production configuration: refuses to start without a secret, passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import email_settings
from payments.currencies import parse_currencies

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7Gq2-production-like-secret-key-with-plenty-of-entropy-9fKd0aLm",
    "SITE_URL": "https://support.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
    "EMAIL_URL": "smtp://mailer:pw@smtp.example.org:587?tls=1",
}


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_refuse_to_start_without_secret_key():
    environment = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **environment)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_check_deploy_with_no_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_email_url_selects_smtp_with_tls_and_credentials():
    configured = email_settings("smtp://mailer:p%40ss@smtp.example.org:587?tls=1")
    assert configured["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
    assert configured["EMAIL_HOST"] == "smtp.example.org"
    assert configured["EMAIL_PORT"] == 587
    assert configured["EMAIL_HOST_USER"] == "mailer"
    assert configured["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert configured["EMAIL_USE_TLS"] is True
    assert configured["EMAIL_USE_SSL"] is False


def test_email_url_defaults_to_the_console_and_writes_files_on_request():
    assert email_settings("console:")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    assert email_settings("file:///srv/mail/outbox")["EMAIL_FILE_PATH"] == "/srv/mail/outbox"


def test_unknown_email_url_scheme_is_a_clear_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_settings("pigeon://roof")


def test_currencies_setting_keeps_order_and_minor_unit_limits():
    currencies = parse_currencies("usd:100:1000000, JPY:100:1000000")
    assert list(currencies) == ["USD", "JPY"]
    assert currencies["USD"].minimum == 100
    assert currencies["USD"].decimals == 2
    assert currencies["JPY"].decimals == 0


@pytest.mark.parametrize(
    "spec", ["", "USD", "USD:1", "USD:x:100", "US:1:100", "USD:0:100", "USD:500:100"]
)
def test_malformed_currencies_setting_is_a_clear_configuration_error(spec):
    with pytest.raises(ImproperlyConfigured):
        parse_currencies(spec)
