"""Membership statuses and the moves between them, written down once.

A paid membership mirrors its Stripe Subscription:

    incomplete ──> active <──> past_due ──> canceled
        │            │  ▲          │
        │            ▼  │          ▼
        │          unpaid ─────> canceled
        └──> expired (the first payment never happened)

"Cancel at period end" is not a status: the membership stays active, with
`cancel_at_period_end` set, until Stripe ends it (then: canceled). Comp and gift
memberships are active from the start and are canceled when they end.
Perks are on while the status is in PERK_STATUSES.
"""

from django.db import models

from payments.states import StateMachine


class MembershipStatus(models.TextChoices):
    INCOMPLETE = "incomplete", "Incomplete"  # first payment not made yet (e.g. 3-D Secure)
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"  # a renewal failed; Stripe is retrying
    UNPAID = "unpaid", "Unpaid"  # Stripe stopped retrying but kept the subscription
    CANCELED = "canceled", "Ended"  # final
    EXPIRED = "expired", "Expired"  # the first payment never succeeded; final


class MembershipKind(models.TextChoices):
    PAID = "paid", "Paid"  # a Stripe subscription
    COMP = "comp", "Complimentary"  # granted by staff, no payment
    GIFT = "gift", "Gift"  # bought by someone else for a fixed time


class MembershipOrigin(models.TextChoices):
    """Who created the Stripe subscription: only ours count towards MRR."""

    SITE = "site", "Joined on this site"
    STRIPE = "stripe", "Created outside this site (in Stripe)"


class CancelReason(models.TextChoices):
    """Why a member stopped, as they (or staff) chose it: the dashboard groups by it."""

    TOO_EXPENSIVE = "too_expensive", "It costs too much right now"
    READING_LESS = "reading_less", "I read less than I used to"
    COVERAGE = "coverage", "I'm unhappy with the coverage"
    OTHER_WAY = "other_way", "I'll support you another way"
    OTHER = "other", "Another reason"
    STAFF = "staff", "Ended by staff"


class Interval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


class GiftStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    PAID = "paid", "Paid"  # waiting for its send date
    SENT = "sent", "Sent"  # the recipient has the claim link
    CLAIMED = "claimed", "Claimed"
    FAILED = "failed", "Failed"  # the card was declined
    REFUNDED = "refunded", "Refunded"  # its payment was refunded: the gift has ended


M, G = MembershipStatus, GiftStatus

MEMBERSHIP = StateMachine(
    {
        M.INCOMPLETE: {M.ACTIVE, M.TRIALING, M.EXPIRED, M.CANCELED},
        M.TRIALING: {M.ACTIVE, M.PAST_DUE, M.UNPAID, M.CANCELED},
        M.ACTIVE: {M.PAST_DUE, M.UNPAID, M.CANCELED},
        M.PAST_DUE: {M.ACTIVE, M.UNPAID, M.CANCELED},
        M.UNPAID: {M.ACTIVE, M.CANCELED},
        M.CANCELED: set(),
        M.EXPIRED: set(),
    },
    name="MEMBERSHIP",
)

GIFT = StateMachine(
    {
        # A refund may be processed before the payment's own event (the ledger row is
        # then recorded from the refund): the gift ends refunded, never to be sent.
        G.AWAITING_PAYMENT: {G.PAID, G.FAILED, G.REFUNDED},
        G.FAILED: {G.AWAITING_PAYMENT, G.PAID, G.REFUNDED},
        G.PAID: {G.SENT, G.CLAIMED, G.REFUNDED},
        G.SENT: {G.CLAIMED, G.REFUNDED},
        G.CLAIMED: {G.REFUNDED},
        G.REFUNDED: set(),
    },
    name="GIFT",
)

PERK_STATUSES = frozenset({M.ACTIVE, M.TRIALING, M.PAST_DUE})

# Stripe's subscription statuses, in ours.
FROM_STRIPE = {
    "incomplete": M.INCOMPLETE,
    "incomplete_expired": M.EXPIRED,
    "trialing": M.TRIALING,
    "active": M.ACTIVE,
    "past_due": M.PAST_DUE,
    "unpaid": M.UNPAID,
    "paused": M.UNPAID,
    "canceled": M.CANCELED,
}

# Months a gift membership may last, as offered on the gift page.
GIFT_MONTHS = (1, 3, 6, 12)


# --- What member webhooks announce (members/services/member_webhooks.py) -----------------


class AnnouncedPhase(models.TextChoices):
    """Where a membership stood when last announced to the newsroom's webhooks."""

    NONE = "", "Not announced"  # never had perks (incomplete, expired before paying)
    ACTIVE = "active", "Active"  # has perks
    LAPSED = "lapsed", "Lapsed"  # lost its perks without ending (Stripe stopped retrying)
    ENDED = "ended", "Ended"


class MemberEvent(models.TextChoices):
    """The events a webhook endpoint receives, by phase moved between (see PHASE_EVENTS)."""

    STARTED = "membership.started", "A membership started (perks on for the first time)"
    LEVEL_CHANGED = "membership.level_changed", "A member's level changed"
    LAPSED = "membership.lapsed", "A membership lapsed (perks off, not ended)"
    REACTIVATED = "membership.reactivated", "A lapsed membership has its perks back"
    ENDED = "membership.ended", "A membership ended"


P = AnnouncedPhase

# (last announced phase, phase now) -> the event; a move not listed announces nothing
# (e.g. never started -> ended: an unpaid join that expired).
PHASE_EVENTS = {
    (P.NONE, P.ACTIVE): MemberEvent.STARTED,
    (P.ACTIVE, P.LAPSED): MemberEvent.LAPSED,
    (P.LAPSED, P.ACTIVE): MemberEvent.REACTIVATED,
    (P.ACTIVE, P.ENDED): MemberEvent.ENDED,
    (P.LAPSED, P.ENDED): MemberEvent.ENDED,
}
