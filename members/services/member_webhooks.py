"""Member webhooks out: memberships starting, changing level, lapsing and ending, told to
the newsroom's own systems (its CMS, its mailing tool) as signed JSON, with retries and a
delivery log.

    announce_changes (stripe_sync: paid, comp and gift memberships alike)
      ─> announce(membership): the phase moved since last announced? one WebhookDelivery
         per active endpoint, written in the caller's transaction (so never without the
         change, never twice for it)
      ─> on commit: the deliver_member_webhook task ─> attempt(): one POST, no lock held
      ─> failed: again after MEMBER_WEBHOOK_RETRY_SECONDS, doubling each time, until
         MEMBER_WEBHOOK_MAX_ATTEMPTS (the task retries itself for the short waits; the
         beat sweep `due_deliveries` takes the rest, and any whose task was lost).

Signed as Stripe signs its webhooks: `Patronage-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<body>" keyed with the endpoint's secret>`. Each attempt signs anew
with its own time; the body is the same every time, and its `id` lets a receiver ignore
an event it already has. See the README ("Member webhooks") for the receiver's side.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from members.models import (
    Membership,
    MembershipLevel,
    WebhookDelivery,
    WebhookEndpoint,
    is_webhook_url,
    new_webhook_secret,
)
from members.states import PHASE_EVENTS, AnnouncedPhase, MemberEvent, MembershipStatus

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Patronage-Signature"
USER_AGENT = "Patronage-Webhooks/1"


# --- What happened ---------------------------------------------------------------------


def phase_of(membership: Membership) -> AnnouncedPhase:
    """Where the membership stands, as webhooks tell it (NONE: not started yet)."""
    if membership.status in (MembershipStatus.CANCELED, MembershipStatus.EXPIRED):
        return AnnouncedPhase.ENDED
    if membership.has_perks:
        return AnnouncedPhase.ACTIVE
    if membership.status == MembershipStatus.INCOMPLETE:
        return AnnouncedPhase.NONE
    return AnnouncedPhase.LAPSED


def announce(membership: Membership) -> list[str]:
    """Record the event the (saved, locked) membership's change calls for, if any, and
    queue its deliveries for after the commit. Says which events it announced.

    It compares with what was announced last (stored on the membership), so running it
    again, or after a change webhooks do not tell (a new card, a renewal), announces
    nothing. A level change while lapsed is told by the reactivation that follows.
    """
    before = AnnouncedPhase(membership.announced_phase)
    phase = phase_of(membership)
    if phase == AnnouncedPhase.NONE:
        return []  # not started: nothing to tell yet
    level_moved = membership.level_id != membership.announced_level_id
    event = PHASE_EVENTS.get((before, phase))
    if event is None and level_moved and before == phase == AnnouncedPhase.ACTIVE:
        event = MemberEvent.LEVEL_CHANGED
    previous_level = membership.announced_level if event == MemberEvent.LEVEL_CHANGED else None
    if phase != before or level_moved:
        membership.announced_phase = phase
        membership.announced_level_id = membership.level_id
        membership.save(update_fields=["announced_phase", "announced_level"])
    if event is None:
        return []
    _record_event(membership, event, previous_level=previous_level)
    return [event]


def _level(level: MembershipLevel | None) -> dict | None:
    return None if level is None else {"slug": level.slug, "name": level.name}


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def event_payload(
    event_id: uuid.UUID,
    event_type: str,
    membership: Membership,
    *,
    created: datetime,
    previous_level: MembershipLevel | None = None,
) -> dict:
    """The JSON body: the event's id and type, and the membership as it is now."""
    user = membership.user
    data: dict = {
        "membership": {
            "id": str(membership.public_id),
            "email": membership.email,
            "name": user.display_name if user else "",
            "kind": membership.kind,
            "status": membership.status,
            "has_perks": membership.has_perks,
            "level": _level(membership.level),
            "amount": membership.amount,
            "currency": membership.currency,
            "interval": membership.interval,
            "starts_at": _when(membership.starts_at),
            "current_period_end": _when(membership.current_period_end),
            "cancel_at_period_end": membership.cancel_at_period_end,
            "ends_at": _when(membership.ends_at),
            "ended_at": _when(membership.ended_at),
        }
    }
    if event_type == MemberEvent.LEVEL_CHANGED:
        data["previous"] = {"level": _level(previous_level)}
    return {
        "id": str(event_id),
        "type": event_type,
        "created": int(created.timestamp()),
        "data": data,
    }


def _record_event(
    membership: Membership, event_type: str, *, previous_level: MembershipLevel | None
) -> list[int]:
    """One delivery per active endpoint, sent once the caller's transaction commits."""
    from members.tasks import deliver_member_webhook

    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).values_list("pk", flat=True))
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = event_payload(
        event_id, event_type, membership, created=now, previous_level=previous_level
    )
    # If its task is lost (a broker down at commit), the beat sweep sends it from then.
    first_sweep = now + timedelta(seconds=settings.MEMBER_WEBHOOK_RETRY_SECONDS)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            event_id=event_id,
            event_type=event_type,
            endpoint_id=endpoint_id,
            membership=membership,
            payload=payload,
            created_at=now,
            next_attempt_at=first_sweep,
        )
        for endpoint_id in endpoints
    )
    ids = [delivery.pk for delivery in deliveries]
    for pk in ids:
        transaction.on_commit(lambda pk=pk: deliver_member_webhook.delay(pk, 0), robust=True)
    return ids


# --- Signing ---------------------------------------------------------------------------


def encode(payload: dict) -> bytes:
    """The body sent: the same bytes at every attempt (keys sorted, no spaces)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>", keyed with the endpoint's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(header: str, body: bytes, secret: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests): the header's v1 matches, and t is recent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def roll_secret(endpoint: WebhookEndpoint) -> str:
    """A new signing secret (the old one stops working at once); returns it to show once."""
    endpoint.secret = new_webhook_secret()
    endpoint.secret_rolled_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rolled_at"])
    return endpoint.secret


# --- Delivering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """How one try went. `attempts`: the delivery's count after it; `retry_in`: seconds
    until the next try (None: delivered, given up, or not this caller's to try)."""

    outcome: str  # delivered | failed | gave_up | skipped
    attempts: int
    retry_in: float | None = None


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling each time."""
    return settings.MEMBER_WEBHOOK_RETRY_SECONDS * 2 ** max(attempts - 1, 0)


def _claim(delivery_id: int, expected_attempts: int, now: datetime) -> bool:
    """Take the next try, if it is still due and nobody else took it: the count moves
    from `expected_attempts` once, so the task's retry and the sweep never both send.
    The lease keeps the sweep off it while the request is under way."""
    lease = now + timedelta(seconds=settings.MEMBER_WEBHOOK_TIMEOUT * 2 + 30)
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            attempts=expected_attempts,
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
        ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=lease)
    )


def attempt(delivery_id: int, *, expected_attempts: int, now: datetime | None = None) -> Attempt:
    """Try one delivery once: POST the signed body, no redirects followed, a short timeout,
    no database lock held meanwhile. A 2xx answer delivers it; anything else is tried
    again later, until MEMBER_WEBHOOK_MAX_ATTEMPTS. Safe to call twice: the second call
    finds the try taken and sends nothing."""
    if not _claim(delivery_id, expected_attempts, now or timezone.now()):
        return Attempt("skipped", expected_attempts)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not is_webhook_url(endpoint.url):
        return _finish(delivery, now, error="Not an http(s) address: nothing was sent.", final=True)
    if not endpoint.is_active:
        return _finish(delivery, now, error="The endpoint is switched off.", final=True)
    body = encode(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, body),
        "Patronage-Event-Id": str(delivery.event_id),
        "Patronage-Event-Type": delivery.event_type,
    }
    timeout = settings.MEMBER_WEBHOOK_TIMEOUT
    try:
        # stream: the answer's body is never read, only its status line and headers
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
    except requests.Timeout:
        return _finish(delivery, now, error=f"No answer within {timeout} s.")
    except requests.RequestException as exc:
        return _finish(delivery, now, error=f"Could not connect: {type(exc).__name__}.")
    if 200 <= status < 300:
        return _finish(delivery, now, status=status, delivered=True)
    if 300 <= status < 400:
        return _finish(
            delivery, now, status=status, error=f"HTTP {status}: redirects are not followed."
        )
    return _finish(delivery, now, status=status, error=f"HTTP {status}.")


def _finish(
    delivery: WebhookDelivery,
    now: datetime | None,
    *,
    status: int | None = None,
    error: str = "",
    delivered: bool = False,
    final: bool = False,
) -> Attempt:
    now = now or timezone.now()
    attempts = delivery.attempts
    fields: dict = {"last_status_code": status, "last_error": error[:500], "next_attempt_at": None}
    retry_in = None
    if delivered:
        outcome = "delivered"
        fields["delivered_at"] = now
    elif final or attempts >= settings.MEMBER_WEBHOOK_MAX_ATTEMPTS:
        outcome = "gave_up"
        fields["gave_up_at"] = now
        logger.warning("Member webhook %s given up after %s attempts", delivery.pk, attempts)
    else:
        outcome = "failed"
        retry_in = backoff(attempts)
        fields["next_attempt_at"] = now + timedelta(seconds=retry_in)
    WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=attempts, delivered_at__isnull=True, gave_up_at__isnull=True
    ).update(**fields)
    return Attempt(outcome, attempts, retry_in)


def due_deliveries(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    """(delivery id, attempts so far) of pending deliveries whose next try is due, oldest
    first: what the beat sweep sends again."""
    due = (
        WebhookDelivery.objects.filter(
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
            next_attempt_at__lte=now or timezone.now(),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "attempts")[:limit]
    )
    return list(due)


def retry_now(delivery_ids, *, now: datetime | None = None) -> list[tuple[int, int]]:
    """Staff: try these deliveries again now, given up or not (never a delivered one);
    their count of attempts starts again. Returns (id, attempts) to send."""
    now = now or timezone.now()
    again = WebhookDelivery.objects.filter(pk__in=list(delivery_ids), delivered_at__isnull=True)
    again.update(gave_up_at=None, attempts=0, next_attempt_at=now)
    return list(again.values_list("pk", "attempts"))


def delete_old_deliveries(*, days: int, now: datetime | None = None) -> int:
    """The delivery log keeps finished deliveries `days` days (their bodies name members);
    pending ones stay until they are delivered or given up."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = Q(delivered_at__lt=cutoff) | Q(gave_up_at__lt=cutoff)
    deleted, _ = WebhookDelivery.objects.filter(finished).delete()
    return deleted
