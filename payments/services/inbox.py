"""The webhook inbox: Stripe events stored once, then processed by the handler
registered for their type; reconciliation with Stripe's own list of events.

Handlers register by type with `@stripe_event(...)`: payments' own in
payments/handlers.py, higher apps' (members) in theirs, when their app is ready.
payments never imports them. A type claimed twice is an error at start-up; a type
nobody claims is stored and ignored.

Handlers are idempotent and do not trust event order: they read the object in
the event, re-read from Stripe what they need and do not have yet, and move
statuses only forward (see states.py). Each service a handler calls is its own
transaction, taken after its Stripe reads: no row (the event's included) stays
locked while Stripe is asked something.
"""

import atexit
import functools
import logging
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from config.db import OFF_FOR_THIS_TRANSACTION_SQL, commits_without_disk_wait, without_disk_wait
from payments import stripe_gateway as gateway
from payments.models import StripeEvent
from payments.states import EVENT, EventStatus

logger = logging.getLogger(__name__)

Handler = Callable[[StripeEvent], None]
_handlers: dict[str, Handler] = {}


def stripe_event(*types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these event types."""

    def register(handler: Handler) -> Handler:
        for type in types:
            claimed = _handlers.get(type)
            if claimed is not None and claimed is not handler:
                raise ImproperlyConfigured(
                    f"Stripe event {type} is claimed twice: by {claimed.__module__}."
                    f"{claimed.__qualname__} and {handler.__module__}.{handler.__qualname__}."
                )
            _handlers[type] = handler
        return handler

    return register


def handled_types() -> list[str]:
    """The event types some handler acts on: what the webhook endpoint subscribes to."""
    return sorted(_handlers)


class NotOurs(Exception):
    """A Stripe object that names no record of ours: its event is ignored, with this reason."""


class EventFailed(Exception):
    """A handler raised; the failure is recorded on the event and the task retries."""


# What an event may move to from a status still to process (EVENT in states.py: pending
# and failed both move to processed, ignored or failed); processed and ignored are final.
_FINAL = (EventStatus.PROCESSED, EventStatus.IGNORED)
# The columns a handler reads (never last_error: it can be long, and is only written).
_CLAIMED_COLUMNS = ("id", "stripe_id", "type", "api_version", "livemode", "stripe_created")


@functools.cache
def _claim_sql(vendor: str) -> str:
    """Names from the model only; the values are parameters."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in (*_CLAIMED_COLUMNS, "payload", "status", "attempts"))
    no_wait = f" AND {OFF_FOR_THIS_TRANSACTION_SQL}" if vendor == "postgresql" else ""
    return (
        f"UPDATE {quote(StripeEvent._meta.db_table)} SET attempts = attempts + 1 "  # noqa: S608
        f"WHERE id = %s AND status NOT IN (%s, %s){no_wait} RETURNING {columns}"
    )


def _claim(event_pk: int) -> StripeEvent | None:
    """Count an attempt on an event still to process and read it, in one statement
    (`UPDATE … RETURNING`, no transaction block, no wait for the disk); None when it is
    processed or ignored."""
    sql = _claim_sql(connection.vendor)
    return next(iter(StripeEvent.objects.raw(sql, [event_pk, *_FINAL])), None)


def _final_status(event_pk: int) -> str:
    return StripeEvent.objects.filter(pk=event_pk).values_list("status", flat=True).get()


def process_event(event_pk: int) -> str:
    """Run the handler for a stored event; return the event's final status.

    One statement claims an attempt and reads the event (an event already processed or
    ignored is left alone: a repeated task costs that statement); one records the
    outcome, only if no concurrent run recorded one first. Neither waits for the disk
    (config/db.py), nor do the handler's own writes: a lost one leaves the event
    pending, to be processed again. No lock is held while the
    handler runs (it may wait on Stripe): two runs of one event at once both run the
    idempotent handler. The raw payload is read, never written back. An event that is
    not ours (a type nobody handles, another account's, an object Stripe says we do not
    have) ends as ignored with the reason. A handler error is recorded on the event
    (attempts, the cause) and raised as EventFailed for a retry.
    """
    event = _claim(event_pk)
    if event is None:
        return _final_status(event_pk)
    reason = _reason_to_ignore(event)
    failure = None
    if not reason:
        try:
            with commits_without_disk_wait():
                _handlers[event.type](event)
        except gateway.ObjectNotFound as exc:
            reason = f"Stripe has no such object for our account: {exc.detail}"
        except NotOurs as exc:
            reason = str(exc)
        except Exception as exc:
            logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
            failure = exc
    if failure is not None:
        status, outcome = EventStatus.FAILED, {"last_error": _cause(failure)[:2000]}
    else:
        status = EventStatus.IGNORED if reason else EventStatus.PROCESSED
        outcome = {"ignored_reason": reason[:500], "processed_at": timezone.now(), "last_error": ""}
    still_open = without_disk_wait(
        StripeEvent.objects.filter(pk=event_pk).exclude(status__in=_FINAL)
    )
    if not still_open.update(status=status, **outcome):
        return _final_status(event_pk)  # a concurrent run finished it first
    if failure is not None:
        raise EventFailed(f"{event.type} {event.stripe_id}: {failure}") from failure
    return status


def _reason_to_ignore(event: StripeEvent) -> str:
    """Why an event is not ours to act on, or "" when it is."""
    if event.type not in _handlers:
        return f"We do not act on {event.type} events."
    account = event.payload.get("account")
    if account:
        return f"A Connect event for another account ({account}), not ours."
    test_key = settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_"))
    if event.livemode and test_key:
        return "A live-mode event, while this site uses a test-mode key."
    if not event.livemode and not test_key:
        return "A test-mode event, while this site uses a live-mode key."
    return ""


def _cause(exc: BaseException) -> str:
    """What staff need to see: Stripe's own error for gateway errors (not the reader's
    sentence), else the exception and what caused it."""
    if isinstance(exc, gateway.GatewayError):
        return exc.detail
    text = "".join(traceback.format_exception_only(exc)).strip()
    if exc.__cause__ is not None:
        text += "\ncaused by " + "".join(traceback.format_exception_only(exc.__cause__)).strip()
    return text


# --- In: one statement per delivery, the task published off the request -----------------


@functools.cache
def _insert_sql() -> tuple[str, tuple]:
    """`INSERT … ON CONFLICT (stripe_id) DO NOTHING RETURNING id` on the inbox's table,
    and the fields whose values it takes, in order (every column but the id). Names
    from the model only; the values are parameters."""
    quote = connection.ops.quote_name
    fields = tuple(f for f in StripeEvent._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    return (
        f"INSERT INTO {quote(StripeEvent._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({values}) ON CONFLICT ({quote('stripe_id')}) DO NOTHING "
        f"RETURNING {quote('id')}",
        fields,
    )


def receive_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified Stripe event once, by its id, and queue its processing.

    One statement, `INSERT … ON CONFLICT (stripe_id) DO NOTHING RETURNING id`, in
    autocommit: a repeated delivery (even one arriving at the same moment) inserts
    nothing and changes nothing. Returns the event as stored and True, or, for a
    repeated delivery, an unsaved StripeEvent naming it (its row is not read: pk None)
    and False.

    The task is published after the commit by the process's publisher thread
    (`publish_event`), never in the request: the row is the truth, and the sweeper
    (`enqueue_pending_events`) enqueues what never reached the broker.
    """
    stored = StripeEvent(
        stripe_id=event["id"],
        type=event["type"],
        api_version=event.get("api_version") or "",
        livemode=bool(event.get("livemode")),
        stripe_created=gateway.timestamp(event["created"]),
        payload=event,
    )
    sql, fields = _insert_sql()
    params = [f.get_db_prep_save(f.pre_save(stored, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return stored, False
    stored.pk = row[0]
    stored._state.adding = False
    stored._state.db = connection.alias
    transaction.on_commit(lambda: publish_event(stored.pk), robust=True)
    return stored, True


class _Publisher:
    """One daemon thread per process that hands event ids to the broker, in batches.

    Why a thread, not a publish in the request with short timeouts: a timeout still
    holds the request for as long as it is (and Stripe's retries pile up behind a slow
    broker), while a hand-off to a bounded in-memory queue costs microseconds whatever
    the broker does. What the thread cannot send (the broker down, or more than
    PUBLISH_BUFFER ids waiting) is logged and left to the sweeper: the stored row, still
    pending, is the record of work to do. Started on first use in each process (after
    a fork too, as gunicorn and Celery's prefork make them); at exit it is given a
    moment to send what it holds.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._queue: queue.Queue[int] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, event_pk: int) -> bool:
        """Queue one id for the broker; False (logged) when the buffer is full."""
        self._ensure_running()
        try:
            self._queue.put_nowait(event_pk)
        except queue.Full:
            logger.warning("Stripe event %s not enqueued: the publisher is full", event_pk)
            return False
        return True

    def wait_until_sent(self, timeout: float) -> bool:
        """Until every id handed over was sent (or given up on); False on the timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def _ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child: its parent's thread is not here
                self._queue = queue.Queue(maxsize=self.capacity)
                self._thread = None
                self._pid = os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="stripe-event-publisher", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        events = self._queue
        while True:
            batch = [events.get()]
            # Ids arriving within BATCH_WAIT go with the first: one Redis pipeline costs
            # less CPU per event than a publish each (0.2 vs 0.37 ms, measured).
            until = time.monotonic() + BATCH_WAIT
            while len(batch) < 200:
                try:
                    batch.append(events.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            try:
                _send_to_broker(batch)
            except Exception:
                logger.warning(
                    "%s Stripe event(s) not enqueued (the broker?); the sweeper will",
                    len(batch),
                    exc_info=True,
                )
            finally:
                for _ in batch:
                    events.task_done()


# Event ids a web process may hold for the broker (a burst while it is slow); beyond,
# they wait for the sweeper.
PUBLISH_BUFFER = 20_000
# How long the publisher waits for more ids to send with the first (seconds).
BATCH_WAIT = 0.005
_publisher = _Publisher(PUBLISH_BUFFER)
atexit.register(_publisher.wait_until_sent, 2.0)


def _send_to_broker(event_pks: list[int]) -> None:
    """Publish one task per event on one producer, with no retries (the sweeper retries).

    On Redis the batch is one pipeline (kombu's `Producer.batch`): one round trip and one
    Redis client for the lot, where each publish alone makes its own (0.2 ms of CPU an
    event in batches of 20, 0.32-0.37 ms one by one, measured); other brokers publish
    each message as it comes."""
    from payments.tasks import process_stripe_event

    with process_stripe_event.app.producer_or_acquire() as producer, producer.batch():
        for pk in event_pks:
            process_stripe_event.apply_async((pk,), producer=producer, retry=False)


def publish_event(event_pk: int) -> None:
    """Queue a stored event's processing without waiting for the broker (see _Publisher).
    With no broker (tasks run eagerly, in development) it is processed here and now."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        from payments.tasks import process_stripe_event

        process_stripe_event.delay(event_pk)
    else:
        _publisher.submit(event_pk)


# --- The sweeper: what is stored and still pending is enqueued again ---------------------

# An event the sweeper enqueued is enqueued by it again only after this long still
# pending (its task lost again), so a long backlog in the broker is not doubled at
# every sweep. Kept in the cache: without it an event is enqueued at every sweep,
# which is harmless (processing checks the status first), only wasteful.
SWEEP_AGAIN_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 10_000


def _swept_key(event_pk: int) -> str:
    return f"inbox:swept:{event_pk}"


def enqueue_pending_events(older_than: timedelta) -> int:
    """Enqueue the processing of events stored more than `older_than` ago and still
    pending: never enqueued (the broker was down or slow at the time, the web process
    died holding them) or their task lost. Oldest first, at most SWEEP_BATCH a run, each
    at most once per SWEEP_AGAIN_AFTER, and none while the broker holds at least as many
    waiting tasks as there are pending events (a backlog draining, not lost tasks).
    Returns how many were enqueued.

    Enqueuing an event twice is harmless: processing claims it and checks its status
    first. Stops at the first broker error (the next sweep goes on).
    """
    from payments.tasks import process_stripe_event

    pending = list(
        StripeEvent.objects.filter(
            status=EventStatus.PENDING, received_at__lt=timezone.now() - older_than
        )
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not pending:
        return 0
    waiting = _tasks_waiting(process_stripe_event)
    if (
        waiting is not None
        and waiting >= StripeEvent.objects.filter(status=EventStatus.PENDING).count()
    ):
        return 0  # a backlog in the broker at least as long: they are queued, not lost
    try:
        recent = cache.get_many([_swept_key(pk) for pk in pending])
    except Exception:  # the cache only spares duplicates; never let it stop the sweep
        logger.warning("The sweeper could not read the cache", exc_info=True)
        recent = {}
    due = [pk for pk in pending if _swept_key(pk) not in recent]
    sent: list[int] = []
    try:
        with process_stripe_event.app.producer_or_acquire() as producer:
            for pk in due:
                process_stripe_event.apply_async((pk,), producer=producer)
                sent.append(pk)
    except Exception:
        logger.warning("The sweeper enqueued %s of %s events", len(sent), len(due), exc_info=True)
    try:
        cache.set_many(
            {_swept_key(pk): 1 for pk in sent}, timeout=SWEEP_AGAIN_AFTER.total_seconds()
        )
    except Exception:
        logger.warning("The sweeper could not write the cache", exc_info=True)
    return len(sent)


def _tasks_waiting(task) -> int | None:
    """Messages waiting in the queue the task is routed to (None: the broker would not say)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    return messages_waiting(task.app, task.app.amqp.router.route({}, task.name)["queue"].name)


def messages_waiting(app, queue: str) -> int | None:
    """Messages waiting in a broker queue; None when the broker does not answer at once
    (down) or has no such queue (never used, or empty on Redis)."""
    try:
        with app.connection_for_read() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
            return broker.default_channel.queue_declare(queue=queue, passive=True).message_count
    except Exception:
        return None


def requeue_event(event: StripeEvent) -> None:
    """Staff asked to process an event again (handlers are idempotent). Published as a
    webhook's event is, so a slow broker never holds the admin's request."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        EVENT.advance(event, EventStatus.PENDING)
        event.save(update_fields=["status"])
        transaction.on_commit(lambda: publish_event(event.pk), robust=True)


@dataclass(frozen=True)
class ReconcileResult:
    seen: int
    stored: int
    requeued: int


def reconcile_events(*, since=None, stuck_after_minutes: int = 10) -> ReconcileResult:
    """Fetch Stripe's events since the last one we have and store the missing ones;
    then enqueue, through the sweeper, events left pending for `stuck_after_minutes`.

    Only the types we act on are listed. Stripe keeps events for 30 days: an
    explicit `since` further back is refused (compare the ledger with Stripe's
    charges instead); the automatic start is clamped to what Stripe still has.
    """
    oldest_listed = timezone.now() - gateway.EVENT_RETENTION
    if since is None:
        latest = StripeEvent.objects.aggregate(latest=Max("stripe_created"))["latest"]
        overlap = timedelta(hours=1)
        since = (latest - overlap) if latest else timezone.now() - timedelta(days=3)
        since = max(since, oldest_listed + timedelta(minutes=1))
    elif since < oldest_listed:
        raise ValueError(
            f"Stripe lists events of the last {gateway.EVENT_RETENTION.days} days only; "
            f"{since:%Y-%m-%d} is further back. Compare the ledger with Stripe's charges instead."
        )
    seen = stored = 0
    for event in gateway.list_events(created_since=since, types=handled_types()):
        seen += 1
        stored += receive_event(event)[1]
    requeued = enqueue_pending_events(older_than=timedelta(minutes=stuck_after_minutes))
    return ReconcileResult(seen=seen, stored=stored, requeued=requeued)
