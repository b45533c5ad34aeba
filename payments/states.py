"""Every status in payments, and the moves allowed between them, written down once.

A status field only changes through its machine's `advance()`, which refuses
moves not listed here. Stripe events may arrive twice or out of order: a move to the
same status is a no-op, and a move backwards (a late "failed" after
"succeeded") is refused, so the newest truth is never overwritten by an older one.
"""

import logging

from django.db import models

logger = logging.getLogger(__name__)


class DonationStatus(models.TextChoices):
    """A reader's one-time gift, from the form to the money."""

    AWAITING_CARD = "awaiting_card", "Awaiting card"  # recorded; the page sends its card next
    REQUIRES_ACTION = "requires_action", "Requires authentication"  # 3-D Secure pending
    PROCESSING = "processing", "Processing"  # Stripe is settling the charge
    FAILED = "failed", "Failed"  # this card was declined; the reader may try another
    SUCCEEDED = "succeeded", "Succeeded"  # money taken: the ledger has (or will have) a row
    ABANDONED = "abandoned", "Abandoned"  # never paid; its open PaymentIntent was canceled


class RefundStatus(models.TextChoices):
    """Stripe's refund statuses."""

    PENDING = "pending", "Pending"
    REQUIRES_ACTION = "requires_action", "Requires action"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class DisputeStatus(models.TextChoices):
    """Stripe's dispute statuses; see CLOSED_DISPUTE_STATUSES for the final ones."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response", "Warning: needs response"
    WARNING_UNDER_REVIEW = "warning_under_review", "Warning: under review"
    WARNING_CLOSED = "warning_closed", "Warning: closed"
    NEEDS_RESPONSE = "needs_response", "Needs response"
    UNDER_REVIEW = "under_review", "Under review"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    APPEAL_NEEDS_RESPONSE = "appeal_needs_response", "Appeal: needs response"
    APPEAL_UNDER_REVIEW = "appeal_under_review", "Appeal: under review"
    PREVENTED = "prevented", "Prevented"


class EventStatus(models.TextChoices):
    """A Stripe event in the webhook inbox."""

    PENDING = "pending", "Pending"  # stored, waiting for the worker
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"  # a type we do not act on
    FAILED = "failed", "Failed"  # the handler raised; retried, and visible in admin


class PaymentKind(models.TextChoices):
    """What a ledger row paid for: recurring revenue is MEMBERSHIP only."""

    ONE_TIME = "one_time", "One-time"
    MEMBERSHIP = "membership", "Membership"
    GIFT = "gift", "Gift membership"  # paid once, for someone else's membership


class StateMachine:
    """The allowed moves between the statuses of one kind of record."""

    def __init__(self, moves: dict[str, set[str]], name: str = "") -> None:
        self.moves = moves
        self.name = name  # for the log: "DONATION"

    def can_move(self, current: str, new: str) -> bool:
        return current == new or new in self.moves.get(current, ())

    def advance(self, obj: models.Model, new: str, field: str = "status") -> bool:
        """Set `obj.<field>` to `new` if the move is allowed; say whether it changed.

        A refused move (backwards, or to a status this machine does not know,
        such as one a newer Stripe API adds) changes nothing and is logged: at INFO
        (late and repeated Stripe events are refused routinely), at WARNING for a
        status the machine does not know. Not saved: the caller saves inside its
        own transaction.
        """
        current = getattr(obj, field)
        if current == new:
            return False
        if not self.can_move(current, new):
            unknown = current not in self.moves or new not in self.moves
            logger.log(
                logging.WARNING if unknown else logging.INFO,
                "%s %s%s: refused move %s -> %s (%s.%s)%s",
                type(obj).__name__,
                obj.pk,
                f" [{obj.public_id}]" if getattr(obj, "public_id", None) else "",
                current,
                new,
                self.name or "machine",
                field,
                ": a status this machine does not know" if unknown else "",
            )
            return False
        setattr(obj, field, new)
        return True


D, R, S, E = DonationStatus, RefundStatus, DisputeStatus, EventStatus

DONATION = StateMachine(
    {
        D.AWAITING_CARD: {D.REQUIRES_ACTION, D.PROCESSING, D.FAILED, D.SUCCEEDED, D.ABANDONED},
        D.REQUIRES_ACTION: {D.PROCESSING, D.FAILED, D.SUCCEEDED, D.ABANDONED},
        D.PROCESSING: {D.FAILED, D.SUCCEEDED},
        D.FAILED: {D.AWAITING_CARD, D.REQUIRES_ACTION, D.PROCESSING, D.SUCCEEDED, D.ABANDONED},
        D.SUCCEEDED: set(),
        D.ABANDONED: {D.SUCCEEDED},  # a late success still counts: the money was taken
    },
    name="DONATION",
)

REFUND = StateMachine(
    {
        R.PENDING: {R.REQUIRES_ACTION, R.SUCCEEDED, R.FAILED, R.CANCELED},
        R.REQUIRES_ACTION: {R.PENDING, R.SUCCEEDED, R.FAILED, R.CANCELED},
        R.SUCCEEDED: {R.FAILED},  # Stripe can fail a refund after reporting success
        R.FAILED: set(),
        R.CANCELED: set(),
    },
    name="REFUND",
)

DISPUTE = StateMachine(
    {
        S.WARNING_NEEDS_RESPONSE: {S.WARNING_UNDER_REVIEW, S.WARNING_CLOSED, S.NEEDS_RESPONSE},
        S.WARNING_UNDER_REVIEW: {S.WARNING_CLOSED, S.NEEDS_RESPONSE},
        S.WARNING_CLOSED: set(),
        S.NEEDS_RESPONSE: {S.UNDER_REVIEW, S.WON, S.LOST, S.PREVENTED},
        S.UNDER_REVIEW: {S.WON, S.LOST},
        S.WON: set(),
        # A lost dispute may be appealed (API 2026-09-30 and later), and the appeal won or
        # lost. Events are applied in Stripe's order (Dispute.status_as_of), so the loss
        # after an appeal is not confused with the first one.
        S.LOST: {S.APPEAL_NEEDS_RESPONSE, S.APPEAL_UNDER_REVIEW, S.WON},
        S.APPEAL_NEEDS_RESPONSE: {S.APPEAL_UNDER_REVIEW, S.WON, S.LOST},
        S.APPEAL_UNDER_REVIEW: {S.APPEAL_NEEDS_RESPONSE, S.WON, S.LOST},
        S.PREVENTED: set(),
    },
    name="DISPUTE",
)

EVENT = StateMachine(
    {
        E.PENDING: {E.PROCESSED, E.IGNORED, E.FAILED},
        E.FAILED: {E.PROCESSED, E.IGNORED, E.PENDING},
        E.PROCESSED: {E.PENDING},  # staff may ask for a reprocess; handlers are idempotent
        E.IGNORED: {E.PENDING},
    },
    name="EVENT",
)

CLOSED_DISPUTE_STATUSES = frozenset({S.WARNING_CLOSED, S.WON, S.LOST, S.PREVENTED})
