"""No donor's email address is ever written to the logs: records name ids instead.

Logs go to log services and outlive erasure requests; they never needed the address.
"""

import logging
from urllib.parse import quote

from django.utils import timezone

from members.models import Membership
from members.services.stripe_sync import sync_subscription
from members.states import MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment
from tests.factories import DonorFactory, UserFactory
from tests.members.memberships import join, refreshed
from tests.payments.donations import give
from tests.support.processes import wait_until


def logged(caplog) -> str:
    """Every record, formatted, with its arguments and any traceback."""
    return (
        "\n".join(
            f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
            for record in caplog.records
        )
        + caplog.text
    )


def test_a_gift_and_a_membership_journey_log_no_email(
    client, tasks, stripe_webhooks, mailoutbox, caplog
):
    member = UserFactory(email="logged.member@example.org")
    caplog.set_level(logging.DEBUG)
    give(client, email="Guest.Giver@Example.org", name="Gus Giver")
    client.force_login(member)
    membership = join(client, amount="10", currency="USD")
    refreshed(membership, status=MembershipStatus.ACTIVE)
    wait_until(lambda: Payment.objects.count() == 2)
    wait_until(lambda: len(mailoutbox) >= 3)  # two receipts and the welcome

    text = logged(caplog).lower()

    assert caplog.records  # the journeys did log (Stripe requests, at least)
    for address in ("guest.giver@example.org", "logged.member@example.org"):
        assert address not in text
        assert quote(address) not in text  # as a request body or URL would carry it


def test_a_second_subscription_for_a_member_is_logged_by_donor_id(db, caplog):
    user = UserFactory(email="twice@example.org")
    donor = DonorFactory(email="twice@example.org", user=user, stripe_customer_id="cus_twice")
    Membership.objects.create(
        user=user,
        email=user.email,
        donor=donor,
        kind=MembershipKind.PAID,
        status=MembershipStatus.ACTIVE,
        amount=1000,
        currency="USD",
        interval="month",
        stripe_subscription_id="sub_first",
    )
    now = timezone.now()
    second = gateway.SubscriptionInfo(
        id="sub_second",
        status="active",
        customer_id="cus_twice",
        amount=500,
        currency="USD",
        interval="month",
        plan_id=None,
        item_id=None,
        current_period_end=None,
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        latest_invoice_id=None,
        created=now,
    )

    with caplog.at_level(logging.WARNING, logger="members.services"):
        sync_subscription(second, as_of=now)

    (record,) = [r for r in caplog.records if "Second open subscription" in r.getMessage()]
    assert record.getMessage() == f"Second open subscription sub_second for donor {donor.pk}"
    assert "twice@example.org" not in logged(caplog)
