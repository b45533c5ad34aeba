"""Every status machine, move by move: each allowed move is listed here once more, by hand,
and every pair of statuses not listed must be refused.

The tables below are the specification (README, payments/states.py, members/states.py):
a change to a machine has to change them too.
"""

import itertools
import logging
from types import SimpleNamespace

import pytest

from members import states as member_states
from members.states import GiftStatus, MembershipStatus
from payments import states as payment_states
from payments.states import (
    CLOSED_DISPUTE_STATUSES,
    DisputeStatus,
    DonationStatus,
    EventStatus,
    RefundStatus,
    StateMachine,
)


def moves(*lines: str) -> set[tuple[str, str]]:
    """`"a -> b, c"` lines as a set of (a, b) and (a, c)."""
    found = set()
    for line in lines:
        source, _, targets = line.partition("->")
        for target in filter(None, (t.strip() for t in targets.split(","))):
            found.add((source.strip(), target))
    return found


ALLOWED = {
    "donation": (
        payment_states.DONATION,
        DonationStatus,
        moves(
            "awaiting_card -> requires_action, processing, failed, succeeded, abandoned",
            "requires_action -> processing, failed, succeeded, abandoned",
            "processing -> failed, succeeded",
            "failed -> awaiting_card, requires_action, processing, succeeded, abandoned",
            "abandoned -> succeeded",
        ),
    ),
    "refund": (
        payment_states.REFUND,
        RefundStatus,
        moves(
            "pending -> requires_action, succeeded, failed, canceled",
            "requires_action -> pending, succeeded, failed, canceled",
            "succeeded -> failed",
        ),
    ),
    "dispute": (
        payment_states.DISPUTE,
        DisputeStatus,
        moves(
            "warning_needs_response -> warning_under_review, warning_closed, needs_response",
            "warning_under_review -> warning_closed, needs_response",
            "needs_response -> under_review, won, lost, prevented",
            "under_review -> won, lost",
            "lost -> appeal_needs_response, appeal_under_review, won",
            "appeal_needs_response -> appeal_under_review, won, lost",
            "appeal_under_review -> appeal_needs_response, won, lost",
        ),
    ),
    "event": (
        payment_states.EVENT,
        EventStatus,
        moves(
            "pending -> processed, ignored, failed",
            "failed -> processed, ignored, pending",
            "processed -> pending",
            "ignored -> pending",
        ),
    ),
    "membership": (
        member_states.MEMBERSHIP,
        MembershipStatus,
        moves(
            "incomplete -> active, trialing, expired, canceled",
            "trialing -> active, past_due, unpaid, canceled",
            "active -> past_due, unpaid, canceled",
            "past_due -> active, unpaid, canceled",
            "unpaid -> active, canceled",
        ),
    ),
    "gift": (
        member_states.GIFT,
        GiftStatus,
        moves(
            "awaiting_payment -> paid, failed, refunded",
            "failed -> awaiting_payment, paid, refunded",
            "paid -> sent, claimed, refunded",
            "sent -> claimed, refunded",
            "claimed -> refunded",
        ),
    ),
}


def every_pair():
    for name, (machine, statuses, allowed) in ALLOWED.items():
        for current, new in itertools.product(statuses.values, repeat=2):
            if current != new:
                yield pytest.param(
                    machine, current, new, (current, new) in allowed, id=f"{name}:{current}>{new}"
                )


def record(status: str) -> SimpleNamespace:
    return SimpleNamespace(pk=7, status=status)


@pytest.mark.parametrize(("machine", "current", "new", "allowed"), list(every_pair()))
def test_each_move_is_allowed_or_refused_as_written_down(machine, current, new, allowed):
    obj = record(current)

    assert machine.can_move(current, new) is allowed
    assert machine.advance(obj, new) is allowed
    assert obj.status == (new if allowed else current)


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_the_tables_name_only_real_statuses_and_the_machine_knows_every_status(name):
    machine, statuses, allowed = ALLOWED[name]
    assert {status for pair in allowed for status in pair} <= set(statuses.values)
    assert set(machine.moves) == set(statuses.values)  # none forgotten, none invented


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_a_move_to_the_same_status_is_a_no_op_that_reports_no_change(name):
    machine, statuses, _ = ALLOWED[name]
    for status in statuses.values:
        obj = record(status)
        assert machine.can_move(status, status) is True
        assert machine.advance(obj, status) is False
        assert obj.status == status


def test_a_status_the_machine_does_not_know_is_refused_both_ways_and_logged(caplog):
    """A status a newer Stripe API adds is never written, nor moved away from."""
    machine = payment_states.DISPUTE
    obj = record(DisputeStatus.NEEDS_RESPONSE)

    with caplog.at_level(logging.INFO, logger="payments.states"):
        assert machine.advance(obj, "pending_arbitration") is False

    assert obj.status == DisputeStatus.NEEDS_RESPONSE
    assert "refused move needs_response -> pending_arbitration" in caplog.text
    assert machine.can_move("pending_arbitration", DisputeStatus.WON) is False


def test_advance_sets_another_field_when_told_and_saves_nothing():
    class Row:
        pk = 3
        saved = False

        def save(self):
            self.saved = True

    row = Row()
    row.gift_status = GiftStatus.PAID
    assert member_states.GIFT.advance(row, GiftStatus.SENT, field="gift_status") is True
    assert row.gift_status == GiftStatus.SENT
    assert row.saved is False  # the caller saves, inside its own transaction


def test_a_machine_without_moves_from_a_status_holds_it():
    machine = StateMachine({"a": {"b"}})
    assert machine.can_move("b", "a") is False
    assert machine.can_move("a", "b") is True


def test_final_statuses_have_no_way_out():
    finals = {
        payment_states.DONATION: {DonationStatus.SUCCEEDED},
        payment_states.REFUND: {RefundStatus.FAILED, RefundStatus.CANCELED},
        member_states.MEMBERSHIP: {MembershipStatus.CANCELED, MembershipStatus.EXPIRED},
        member_states.GIFT: {GiftStatus.REFUNDED},
        payment_states.DISPUTE: {
            DisputeStatus.WARNING_CLOSED,
            DisputeStatus.WON,
            DisputeStatus.PREVENTED,
        },
    }
    for machine, statuses in finals.items():
        assert {s for s, targets in machine.moves.items() if not targets} == statuses


def test_closed_disputes_are_the_final_ones_and_a_lost_one_that_may_be_appealed():
    assert set(CLOSED_DISPUTE_STATUSES) == {
        DisputeStatus.WARNING_CLOSED,
        DisputeStatus.WON,
        DisputeStatus.LOST,
        DisputeStatus.PREVENTED,
    }
    # A lost dispute is closed, yet an appeal may reopen it (API 2026-09-30 and later).
    assert payment_states.DISPUTE.can_move(DisputeStatus.LOST, DisputeStatus.APPEAL_NEEDS_RESPONSE)


def test_perks_last_while_active_trialing_or_past_due_only():
    assert set(member_states.PERK_STATUSES) == {
        MembershipStatus.ACTIVE,
        MembershipStatus.TRIALING,
        MembershipStatus.PAST_DUE,
    }


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("incomplete", MembershipStatus.INCOMPLETE),
        ("incomplete_expired", MembershipStatus.EXPIRED),
        ("trialing", MembershipStatus.TRIALING),
        ("active", MembershipStatus.ACTIVE),
        ("past_due", MembershipStatus.PAST_DUE),
        ("unpaid", MembershipStatus.UNPAID),
        ("paused", MembershipStatus.UNPAID),  # perks stop, the subscription stays
        ("canceled", MembershipStatus.CANCELED),
    ],
)
def test_every_stripe_subscription_status_has_one_of_ours(stripe_status, ours):
    assert member_states.FROM_STRIPE[stripe_status] == ours


def test_no_stripe_status_is_mapped_that_stripe_does_not_have():
    assert set(member_states.FROM_STRIPE) == {
        "incomplete",
        "incomplete_expired",
        "trialing",
        "active",
        "past_due",
        "unpaid",
        "paused",
        "canceled",
    }


def test_a_paid_membership_follows_stripe_through_a_failed_renewal_and_back():
    """incomplete -> active -> past_due -> active -> canceled, and nothing after the end."""
    membership = record(MembershipStatus.INCOMPLETE)
    path = [
        MembershipStatus.ACTIVE,
        MembershipStatus.PAST_DUE,
        MembershipStatus.ACTIVE,
        MembershipStatus.CANCELED,
    ]
    assert [member_states.MEMBERSHIP.advance(membership, s) for s in path] == [True] * 4
    assert member_states.MEMBERSHIP.advance(membership, MembershipStatus.ACTIVE) is False
    assert membership.status == MembershipStatus.CANCELED
