"""Reachability checks for /healthz: each says whether its dependency answers.

/healthz is public, so it says only *what* is down; the cause (with hosts,
ports and users) goes to the log for staff.
"""

import logging

from django.db import DatabaseError, connection

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return False
    return True


def broker_answers() -> bool:
    if celery_app.conf.task_always_eager:
        return True  # no broker configured: tasks run in the web process
    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception:  # any transport error means "down"
        logger.exception("Health check: the task broker does not answer")
        return False
    return True
