"""Time bounds: one Stripe call (every retry and backoff) ends before a Celery task's soft
time limit, and a PostgreSQL lock wait fails fast (config/settings.py)."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from django.conf import settings
from django.core import checks
from django.db import connection

from config.settings import (
    STRIPE_RETRY_INITIAL_DELAY,
    STRIPE_RETRY_MAX_DELAY,
    check_stripe_call_budget,
    stripe_call_budget,
    stripe_call_budget_problem,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_configured_stripe_call_ends_before_the_task_soft_time_limit():
    budget = stripe_call_budget(settings.STRIPE_TIMEOUT, settings.STRIPE_MAX_NETWORK_RETRIES)
    assert budget < settings.CELERY_TASK_SOFT_TIME_LIMIT


def test_the_budget_counts_every_try_and_the_backoff_between_them():
    assert stripe_call_budget(15, 0) == 15
    assert stripe_call_budget(15, 2) == 15 * 3 + 0.5 + 1
    assert stripe_call_budget(20, 3) == 20 * 4 + 0.5 + 1 + 2  # the old defaults: 83.5 s
    assert stripe_call_budget(1, 6) == 7 + 0.5 + 1 + 2 + 4 + 5 + 5  # backoff capped at 5 s


def test_the_backoff_is_the_stripe_librarys_at_its_longest(monkeypatch):
    assert (stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY) == (
        STRIPE_RETRY_INITIAL_DELAY,
        STRIPE_RETRY_MAX_DELAY,
    )
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the longest jitter
    client = stripe.RequestsClient()
    for retries in range(8):
        slept = sum(client._sleep_time_seconds(n) for n in range(1, retries + 1))
        assert slept == pytest.approx(stripe_call_budget(0, retries))


def test_a_stripe_call_that_could_outlive_the_task_is_a_problem():
    assert "STRIPE_TIMEOUT=20 s x 4 tries" in stripe_call_budget_problem(20, 3, 60)
    assert "CELERY_TASK_SOFT_TIME_LIMIT=30 s" in stripe_call_budget_problem(15, 1, 30)
    assert stripe_call_budget_problem(15, 2, 60) is None
    assert stripe_call_budget_problem(600, 9, 0) is None  # no time limit: nothing to outlive


def test_the_system_check_reports_the_settings_in_force(settings):
    assert check_stripe_call_budget() == []

    settings.STRIPE_TIMEOUT = 30

    (error,) = check_stripe_call_budget()
    assert (error.id, error.level) == ("patronage.E001", checks.ERROR)
    assert "One Stripe call may take 91.5 s" in error.msg


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CELERY_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_check_fails_on_a_stripe_call_longer_than_the_task():
    result = manage("check", STRIPE_TIMEOUT="30", STRIPE_MAX_NETWORK_RETRIES="3")
    assert result.returncode != 0
    assert "patronage.E001" in result.stderr
    assert "One Stripe call may take 123.5 s" in result.stderr


def test_production_refuses_to_start_with_a_stripe_call_longer_than_the_task():
    result = manage(
        "check",
        DEBUG="0",
        SECRET_KEY="x7Gq2-production-like-secret-key-with-plenty-of-entropy-9fKd0aLm",
        STRIPE_TIMEOUT="20",
        STRIPE_MAX_NETWORK_RETRIES="3",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: One Stripe call may take 83.5 s" in result.stderr


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_a_lock_wait_on_postgresql_gives_up_after_the_configured_time():
    assert (
        f"-c lock_timeout={settings.DB_LOCK_TIMEOUT_MS}"
        in (connection.settings_dict["OPTIONS"]["options"])
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
        assert cursor.fetchone()[0] == str(settings.DB_LOCK_TIMEOUT_MS)
