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

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

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


def process_event(event_pk: int) -> str:
    """Run the handler for a stored event; return the event's final status.

    The event row is locked only to claim an attempt and to record the outcome,
    never while the handler runs (it may wait on Stripe). Two runs of one event at
    once both run the idempotent handler; the first to finish records it. An event
    that is not ours (a type nobody handles, another account's, an object Stripe
    says we do not have) ends as ignored with the reason. A handler error is
    recorded on the event (attempts, the cause) and raised as EventFailed for a retry.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
            return event.status
        event.attempts += 1
        event.save(update_fields=["attempts"])
    reason = _reason_to_ignore(event)
    failure = None
    if not reason:
        try:
            _handlers[event.type](event)
        except gateway.ObjectNotFound as exc:
            reason = f"Stripe has no such object for our account: {exc.detail}"
        except NotOurs as exc:
            reason = str(exc)
        except Exception as exc:
            logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
            failure = exc
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
            return event.status  # a concurrent run finished it first
        if failure is not None:
            EVENT.advance(event, EventStatus.FAILED)
            event.last_error = _cause(failure)[:2000]
        else:
            EVENT.advance(event, EventStatus.IGNORED if reason else EventStatus.PROCESSED)
            event.ignored_reason = reason[:500]
            event.processed_at = timezone.now()
            event.last_error = ""
        event.save()
    if failure is not None:
        raise EventFailed(f"{event.type} {event.stripe_id}: {failure}") from failure
    return event.status


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


def receive_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified Stripe event once, by its id, and queue its processing.

    A repeated delivery finds the stored event and changes nothing.
    """
    from payments.tasks import process_stripe_event

    with transaction.atomic():
        stored, created = StripeEvent.objects.get_or_create(
            stripe_id=event["id"],
            defaults={
                "type": event["type"],
                "api_version": event.get("api_version") or "",
                "livemode": bool(event.get("livemode")),
                "stripe_created": gateway.timestamp(event["created"]),
                "payload": event,
            },
        )
        if created:
            transaction.on_commit(lambda: process_stripe_event.delay(stored.pk), robust=True)
    return stored, created


def requeue_event(event: StripeEvent) -> None:
    """Staff asked to process an event again (handlers are idempotent)."""
    from payments.tasks import process_stripe_event

    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        EVENT.advance(event, EventStatus.PENDING)
        event.save(update_fields=["status"])
        transaction.on_commit(lambda: process_stripe_event.delay(event.pk), robust=True)


@dataclass(frozen=True)
class ReconcileResult:
    seen: int
    stored: int
    requeued: int


def reconcile_events(*, since=None, stuck_after_minutes: int = 10) -> ReconcileResult:
    """Fetch Stripe's events since the last one we have, store the missing ones,
    and requeue events left pending (a lost task) for longer than a few minutes.

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
    cutoff = timezone.now() - timedelta(minutes=stuck_after_minutes)
    stuck = list(
        StripeEvent.objects.filter(status=EventStatus.PENDING, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    if stuck:
        from payments.tasks import process_stripe_event

        for pk in stuck:
            transaction.on_commit(lambda pk=pk: process_stripe_event.delay(pk), robust=True)
    return ReconcileResult(seen=seen, stored=stored, requeued=len(stuck))
