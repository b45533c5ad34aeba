"""A change of amount or interval says what will be charged when, before the member saves
and again after; the switch credits the unused time unless MEMBERSHIP_PRORATION is "none".

The numbers are worked out here by hand for a fixed period (a monthly membership paid
on 1 November 2026 at noon, changed ten days into its thirty: two thirds unused). On
localstripe (no invoice preview) the page shows the same arithmetic, marked as an
estimate; real Stripe's preview is read by the gateway's parser (checked below on a
current-shape payload).
"""

import html
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from members.models import Membership
from members.services import change_prices
from members.states import MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment
from tests.factories import UserFactory
from tests.members.memberships import join
from tests.support.processes import wait_until

CHANGE = reverse("members:membership_change")
PREVIEW = reverse("members:membership_change_preview")

PAID = datetime(2026, 11, 1, 12, tzinfo=UTC)  # the month paid for: 1 Nov to 1 Dec, noon
NEXT = datetime(2026, 12, 1, 12, tzinfo=UTC)
TEN_DAYS_IN = datetime(2026, 11, 11, 12, tzinfo=UTC)  # 20 of 30 days unused: 2/3
ESTIMATE = (
    " These amounts are an estimate: the exact ones are worked out to the second when you save."
)


def monthly(amount: int = 1000, *, interval: str = "month", paid=PAID, ends=NEXT) -> Membership:
    """A paid membership as held (not saved: pricing reads only these fields)."""
    return Membership(
        kind=MembershipKind.PAID,
        status=MembershipStatus.ACTIVE,
        amount=amount,
        currency="USD",
        interval=interval,
        current_period_end=ends,
    )


def priced(membership, *, amount, interval, proration="create_prorations", at=TEN_DAYS_IN):
    return change_prices.quote(
        membership, None, amount=amount, interval=interval, proration=proration, at=at
    )


# --- The sentence, worked out by hand ----------------------------------------------------


def test_a_new_amount_settles_this_months_difference_with_the_next_payment():
    quote = priced(monthly(1000), amount=2500, interval="month")

    # credit 2/3 x $10 = $6.67; the rest of the month at $25: 2/3 x $25 = $16.67
    assert (quote.credit, quote.prorated_charge, quote.due_now) == (667, 1667, 0)
    assert (quote.next_payment, quote.next_payment_at) == (2500 + 1667 - 667, NEXT)
    assert quote.sentence == (
        "On 1 December 2026 you'll pay $35.00 ($25.00 for the month ahead, plus $10.00 for "
        "the rest of this month at the new amount), then $25.00 a month." + ESTIMATE
    )
    assert quote.button == "Change to $25.00 a month"


def test_without_proration_a_new_amount_applies_from_the_next_payment():
    quote = priced(monthly(1000), amount=2500, interval="month", proration="none")

    assert (quote.credit, quote.prorated_charge, quote.next_payment) == (0, 0, 2500)
    assert quote.sentence == "From 1 December 2026 you'll pay $25.00 a month."
    assert quote.button == "Change to $25.00 a month"


def test_switching_to_yearly_charges_the_year_today_less_the_unused_part_of_the_month():
    quote = priced(monthly(1000), amount=12000, interval="year")

    # $120.00 - 2/3 x $10.00 ($6.67) = $113.33 today; the year runs from today
    assert (quote.credit, quote.due_now, quote.leftover) == (667, 11333, 0)
    assert quote.next_payment_at == datetime(2027, 11, 11, 12, tzinfo=UTC)
    assert quote.sentence == (
        "You'll be charged $113.33 today ($120.00 a year, less $6.67 for the unused part of "
        "this month), then $120.00 every year from 11 November 2027." + ESTIMATE
    )
    assert quote.button == "Switch to yearly: pay $113.33 now"


def test_switching_just_after_paying_credits_the_whole_month():
    quote = priced(monthly(1000), amount=12000, interval="year", at=PAID)

    assert (quote.credit, quote.due_now) == (1000, 11000)
    assert quote.sentence.startswith(
        "You'll be charged $110.00 today ($120.00 a year, less $10.00 for the unused part of "
        "this month), then $120.00 every year from 1 November 2027."
    )
    assert quote.button == "Switch to yearly: pay $110.00 now"


def test_without_proration_the_switch_charges_the_full_year_and_says_nothing_is_credited():
    quote = priced(monthly(1000), amount=12000, interval="year", proration="none")

    assert (quote.credit, quote.due_now) == (0, 12000)
    assert quote.sentence == (
        "You'll be charged $120.00 today, then $120.00 every year from 11 November 2027. "
        "The unused part of this month is not credited."
    )
    assert quote.button == "Switch to yearly: pay $120.00 now"


def test_a_credit_larger_than_the_first_month_is_carried_to_the_next_payments():
    yearly = monthly(12000, interval="year", ends=datetime(2027, 1, 1, 12, tzinfo=UTC))

    quote = priced(yearly, amount=1000, interval="month")

    # 51 of 365 days unused: 51/365 x $120.00 = $16.77; $10.00 of it pays the first month
    assert (quote.credit, quote.due_now, quote.leftover) == (1677, 0, 677)
    assert quote.sentence == (
        "Nothing is charged today: your credit of $16.77 for the unused part of this year pays "
        "for your first month ($10.00), and the remaining $6.77 is taken off your next payments "
        "of $10.00 a month, the first on 11 December 2026." + ESTIMATE
    )
    assert quote.button == "Switch to monthly"


def test_stripes_preview_is_read_as_credit_charge_and_amount_due():
    """The invoice real Stripe previews for a monthly -> yearly switch (current shape:
    proration flagged on `parent.subscription_item_details`)."""
    preview = gateway.preview_from_invoice(
        {
            "object": "invoice",
            "amount_due": 11333,
            "total": 11333,
            "currency": "usd",
            "lines": {
                "data": [
                    {
                        "amount": -667,
                        "period": {"start": 1794398400, "end": 1796990400},
                        "parent": {
                            "type": "subscription_item_details",
                            "subscription_item_details": {"proration": True},
                        },
                    },
                    {
                        "amount": 12000,
                        "period": {"start": 1794398400, "end": 1825934400},
                        "parent": {
                            "type": "subscription_item_details",
                            "subscription_item_details": {"proration": False},
                        },
                    },
                ]
            },
        }
    )

    assert (preview.amount_due, preview.credit, preview.prorated_charge) == (11333, 667, 0)
    assert preview.period_end == datetime(2027, 11, 11, 12, tzinfo=UTC)


# --- Against the emulator: the endpoint, the page, what Stripe is asked -------------------


def subscription_updates(stripe_contract, membership) -> list[dict]:
    path = f"/v1/subscriptions/{membership.stripe_subscription_id}"
    return [
        request.params
        for request in stripe_contract.requests
        if request.method == "POST" and request.path == path and "items" in request.params
    ]


def test_the_preview_needs_a_signed_in_member_with_a_membership_of_their_own(
    client, tasks, stripe_webhooks
):
    assert client.get(PREVIEW, {"amount": "12", "interval": "month"}).status_code == 401

    owner = UserFactory(email="owner@example.org")
    client.force_login(owner)
    theirs = join(client, amount="10", currency="USD", interval="month")
    client.logout()
    client.force_login(UserFactory(email="stranger@example.org"))

    # Nothing names a membership: a member previews only their own, and this one has none.
    response = client.get(
        PREVIEW, {"amount": "12", "interval": "month", "membership": str(theirs.public_id)}
    )
    assert response.status_code == 404


def test_a_bad_amount_or_interval_is_a_400_naming_the_field(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())
    join(client, amount="10", currency="USD", interval="month")

    too_small = client.get(PREVIEW, {"amount": "0.10", "interval": "month"})
    not_an_interval = client.get(PREVIEW, {"amount": "12", "interval": "weekly"})

    assert too_small.status_code == 400 and list(too_small.json()["errors"]) == ["amount"]
    assert not_an_interval.status_code == 400
    assert list(not_an_interval.json()["errors"]) == ["interval"]


def test_the_page_states_the_price_and_follows_each_change_before_saving(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD", interval="month")
    next_payment = f"{membership.current_period_end:%-d %B %Y}"

    page = html.unescape(client.get(CHANGE).content.decode())
    assert f"You give $10.00 a month; your next payment is on {next_payment}." in page
    assert "membership_change.js" in page and 'name="quoted_at"' in page

    raised = client.get(PREVIEW, {"amount": "15", "interval": "month"}).json()
    yearly = client.get(PREVIEW, {"amount": "120", "interval": "year"}).json()

    # Paid a moment ago: nearly the whole month is unused, credited to the cent.
    assert raised["sentence"].startswith(
        f"On {next_payment} you'll pay $20.00 ($15.00 for the month ahead, plus $5.00 for the "
        "rest of this month at the new amount), then $15.00 a month."
    )
    assert raised["button"] == "Change to $15.00 a month"
    assert yearly["sentence"].startswith(
        "You'll be charged $110.00 today ($120.00 a year, less $10.00 for the unused part of "
        "this month), then $120.00 every year from "
    )
    assert yearly["button"] == "Switch to yearly: pay $110.00 now"
    assert yearly["estimate"] is True  # the emulator has no preview: worked out here
    assert yearly["sentence"].endswith(ESTIMATE)


def test_the_switch_sends_the_proration_setting_and_says_what_was_charged(
    client, tasks, stripe_webhooks, stripe_contract
):
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="EUR", interval="month")
    wait_until(lambda: Payment.objects.count() == 1)
    shown = client.get(PREVIEW, {"amount": "100", "interval": "year"}).json()

    response = client.post(
        CHANGE,
        {"amount": "100", "interval": "year", "quoted_at": shown["prorationDate"]},
        follow=True,
    )

    (update,) = subscription_updates(stripe_contract, membership)
    assert update["proration_behavior"] == "create_prorations"
    assert int(update["proration_date"]) == shown["prorationDate"]  # the price shown
    assert "billing_cycle_anchor" not in update  # a new interval restarts it by itself
    membership.refresh_from_db()
    page = html.unescape(response.content.decode())
    assert (
        "€90.00 was charged today (€100.00 a year, less €10.00 for the unused part of the "
        "month you had paid for)." in page
    )
    assert f"Your next payment is €100.00 on {membership.current_period_end:%-d %B %Y}." in page
    assert wait_until(lambda: Payment.objects.filter(amount=9000).first()) is not None


def test_with_proration_off_the_switch_asks_for_none_and_charges_the_full_year(
    client, tasks, stripe_webhooks, stripe_contract, settings
):
    settings.MEMBERSHIP_PRORATION = "none"
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD", interval="month")
    wait_until(lambda: Payment.objects.count() == 1)
    shown = client.get(PREVIEW, {"amount": "120", "interval": "year"}).json()
    assert shown["sentence"].endswith("The unused part of this month is not credited.")

    response = client.post(CHANGE, {"amount": "120", "interval": "year"}, follow=True)

    (update,) = subscription_updates(stripe_contract, membership)
    assert update["proration_behavior"] == "none"
    assert "proration_date" not in update
    assert "$120.00 was charged today." in html.unescape(response.content.decode())
    assert wait_until(lambda: Payment.objects.filter(amount=12000).first()) is not None


@pytest.mark.parametrize("proration", ["create_prorations", "none"])
def test_an_amount_change_sends_the_proration_setting_and_repeats_the_next_payment(
    client, tasks, stripe_webhooks, stripe_contract, settings, proration
):
    settings.MEMBERSHIP_PRORATION = proration
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD", interval="month")

    response = client.post(CHANGE, {"amount": "15", "interval": "month"}, follow=True)

    (update,) = subscription_updates(stripe_contract, membership)
    assert update["proration_behavior"] == proration
    page = html.unescape(response.content.decode())
    on = f"{membership.current_period_end:%-d %B %Y}"
    said = (
        f"On {on} you'll pay $20.00 ($15.00 for the month ahead, plus $5.00 for the rest of "
        "this month at the new amount), then $15.00 a month."
        if proration == "create_prorations"
        else f"From {on} you'll pay $15.00 a month."
    )
    assert f"Your membership is now $15.00 monthly. {said}" in page
