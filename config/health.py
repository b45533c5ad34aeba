"""Reachability checks for /healthz: each says whether its dependency answers.

/healthz is public, so it says only *what* is down; the cause (with hosts,
ports and users) goes to the log for staff.

A load balancer polls /healthz every second or so, from each of its nodes, so a check
must cost next to nothing: the database check is one `SELECT 1` on the request's own
connection, its answer reused for DATABASE_ANSWER_SECONDS, and the broker check pings
over one broker connection this process keeps (opened on the first check, opened again
only after a failure or when the broker URL changes), its answer reused for
BROKER_ANSWER_SECONDS. Either going down is noticed within that time (plus, at worst,
BROKER_TIMEOUT_SECONDS to find out the broker's).
"""

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from django.db import DatabaseError, connection
from kombu import Connection

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2
# How long one broker check's answer stands (per process), up or down.
BROKER_ANSWER_SECONDS = 1.0


# How long one database check's answer stands (per process), up or down.
DATABASE_ANSWER_SECONDS = 1.0
_database = {"answered": False, "checked_at": float("-inf")}


def database_answers() -> bool:
    """`SELECT 1` on the request's own connection, at most once a second per process:
    between checks /healthz touches no database (not even Django's connection check)."""
    now = time.monotonic()
    if now - _database["checked_at"] < DATABASE_ANSWER_SECONDS:
        return _database["answered"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        answered = True
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        answered = False
    _database.update(answered=answered, checked_at=time.monotonic())
    return answered


def forget_answers() -> None:
    """The next checks ask again (tests)."""
    _database["checked_at"] = float("-inf")
    _broker.checked_at = float("-inf")


@dataclass
class _BrokerCheck:
    """This process's kept broker connection and its latest answer."""

    url: str = ""
    connection: Connection | None = None
    answered: bool = False
    checked_at: float = float("-inf")


_broker = _BrokerCheck()
_broker_lock = threading.Lock()  # a kombu connection is not for two threads at once


def broker_answers() -> bool:
    if celery_app.conf.task_always_eager:
        return True  # no broker configured: tasks run in the web process
    url = celery_app.conf.broker_write_url or ""
    with _broker_lock:
        now = time.monotonic()
        if _broker.url == url and now - _broker.checked_at < BROKER_ANSWER_SECONDS:
            return _broker.answered
        if _broker.url != url:
            _forget_connection()
            _broker.url = url
        _broker.answered = _ping_broker()
        _broker.checked_at = time.monotonic()
        return _broker.answered


def _ping_broker() -> bool:
    """Whether the broker answers a round trip on the kept connection (opened if need be)."""
    try:
        if _broker.connection is None:
            _broker.connection = celery_app.connection_for_write(
                _broker.url,
                connect_timeout=BROKER_TIMEOUT_SECONDS,
                transport_options={
                    "socket_timeout": BROKER_TIMEOUT_SECONDS,
                    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                },
            )
        conn = _broker.connection
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
        client = getattr(conn.default_channel, "client", None)
        if callable(getattr(client, "ping", None)):
            client.ping()  # Redis: a real round trip on the kept socket
    except Exception:  # any transport error means "down"
        logger.exception("Health check: the task broker does not answer")
        _forget_connection()
        return False
    return True


def _forget_connection() -> None:
    """Drop the kept connection (the next check opens a new one)."""
    if _broker.connection is not None:
        with contextlib.suppress(Exception):  # thrown away: closing is best effort
            _broker.connection.release()
    _broker.connection = None
