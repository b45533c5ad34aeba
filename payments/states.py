"""Every status in payments, and the moves allowed between them, written down once.

A status field only changes through its machine's `advance()`, which refuses
moves not listed here. Stripe events may arrive twice or out of order: a move to the
same status is a no-op, and a move backwards (a late "failed" after
"succeeded") is refused, so the newest truth is never overwritten by an older one.
"""

from django.db import models


class DonationStatus(models.TextChoices):
    """A reader's one-time gift, from the form to the money."""

    AWAITING_CARD = "awaiting_card", "Awaiting card"  # Stripe customer + SetupIntent made
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

    def __init__(self, moves: dict[str, set[str]]) -> None:
        self.moves = moves

    def can_move(self, current: str, new: str) -> bool:
        return current == new or new in self.moves[current]

    def advance(self, obj: models.Model, new: str, field: str = "status") -> bool:
        """Set `obj.<field>` to `new` if the move is allowed; say whether it changed.

        Not saved: the caller saves inside its own transaction.
        """
        current = getattr(obj, field)
        if current == new or not self.can_move(current, new):
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
    }
)

REFUND = StateMachine(
    {
        R.PENDING: {R.REQUIRES_ACTION, R.SUCCEEDED, R.FAILED, R.CANCELED},
        R.REQUIRES_ACTION: {R.PENDING, R.SUCCEEDED, R.FAILED, R.CANCELED},
        R.SUCCEEDED: {R.FAILED},  # Stripe can fail a refund after reporting success
        R.FAILED: set(),
        R.CANCELED: set(),
    }
)

DISPUTE = StateMachine(
    {
        S.WARNING_NEEDS_RESPONSE: {S.WARNING_UNDER_REVIEW, S.WARNING_CLOSED, S.NEEDS_RESPONSE},
        S.WARNING_UNDER_REVIEW: {S.WARNING_CLOSED, S.NEEDS_RESPONSE},
        S.WARNING_CLOSED: set(),
        S.NEEDS_RESPONSE: {S.UNDER_REVIEW, S.WON, S.LOST, S.PREVENTED},
        S.UNDER_REVIEW: {S.WON, S.LOST},
        S.WON: set(),
        S.LOST: set(),
        S.PREVENTED: set(),
    }
)

EVENT = StateMachine(
    {
        E.PENDING: {E.PROCESSED, E.IGNORED, E.FAILED},
        E.FAILED: {E.PROCESSED, E.IGNORED, E.PENDING},
        E.PROCESSED: {E.PENDING},  # staff may ask for a reprocess; handlers are idempotent
        E.IGNORED: {E.PENDING},
    }
)

CLOSED_DISPUTE_STATUSES = frozenset({S.WARNING_CLOSED, S.WON, S.LOST, S.PREVENTED})
