"""Commits that need not wait for the disk (PostgreSQL's `synchronous_commit = off`).

A commit that waits for PostgreSQL to flush it to disk costs 3-14 ms on a small
server; one that does not returns at once. Such a commit is visible to everyone at
once and is never corrupted; a crash of the database server in the next fraction of a
second may lose it (and, PostgreSQL's log being written in order, every commit made
after it). So it is used only where what is lost is done again:

- bookkeeping of work that is redone when its record is missing (an event's attempt
  and outcome: an event still pending is swept and processed again, idempotently);
- what an event's handler derives from the event (ledger rows, statuses): the event's
  "processed" mark comes after it in the log, so a lost write leaves the event pending,
  and it is processed again; the raw event itself is stored durably;
- a gift's start, which no money depends on (a lost one answers the reader's next step
  404 before any card is charged).

A receipt's "sent" mark waits for the disk, and with it everything logged before it:
a receipt that went out stands for a ledger row that is on disk.

Elsewhere than on PostgreSQL these change nothing.
"""

import contextlib
from collections.abc import Iterator

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

# Always true; evaluated (in a WHERE), it turns synchronous_commit off for its transaction.
OFF_FOR_THIS_TRANSACTION_SQL = "set_config('synchronous_commit', 'off', true) = 'off'"


def without_disk_wait(rows: QuerySet) -> QuerySet:
    """`rows` for one UPDATE (or DELETE) whose commit does not wait for the disk: the
    condition above added to its WHERE, so no transaction block (BEGIN, SET, COMMIT)
    is needed around one statement."""
    if connection.vendor != "postgresql":
        return rows
    return rows.filter(RawSQL(OFF_FOR_THIS_TRANSACTION_SQL, (), output_field=BooleanField()))  # noqa: S611 (a constant)


def this_transaction_without_disk_wait() -> None:
    """Inside an outermost `transaction.atomic()`: its COMMIT does not wait for the disk.
    Inside a caller's transaction, nothing changes (the caller decides)."""
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


@contextlib.contextmanager
def commits_without_disk_wait() -> Iterator[None]:
    """Every transaction committed inside this block (outside any transaction) does not
    wait for the disk; the connection's setting is restored after it."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.in_atomic_block:
            # (a broken connection is closed anyway)
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
