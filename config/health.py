"""Reachability checks for /healthz: each returns None when fine, else why not."""

from django.db import DatabaseError, connection

from config.celery import app as celery_app

BROKER_TIMEOUT_SECONDS = 2


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def broker_problem() -> str | None:
    if celery_app.conf.task_always_eager:
        return None  # no broker configured: tasks run in the web process
    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # any transport error means "down"
        return f"{type(exc).__name__}: {exc}".strip()
    return None
