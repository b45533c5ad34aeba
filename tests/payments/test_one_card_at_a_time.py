"""A payment is charged with one card at a time: another card sent while one is being
charged is refused (Stripe would charge both, their requests differing), while the same
card sent twice (a double click) goes on to the same, idempotent, charge."""

import pytest
from django.urls import reverse

from config.errors import Refused
from members.models import Membership
from payments.models import Donation, Payment
from payments.services.cards import one_card_at_a_time
from tests.factories import UserFactory
from tests.support.stripejs import CARD_OK, create_payment_method

pytestmark = pytest.mark.integration


def test_the_same_card_may_go_on_while_another_card_is_refused_until_the_first_is_done():
    with one_card_at_a_time("donation-1", "pm_first"):
        with one_card_at_a_time("donation-1", "pm_first"):  # a double click: same charge
            pass
        with pytest.raises(Refused) as refused, one_card_at_a_time("donation-1", "pm_second"):
            pass
        assert refused.value.field == "card"
        with one_card_at_a_time("donation-2", "pm_second"):  # another payment: its own
            pass
    with one_card_at_a_time("donation-1", "pm_second"):  # the first is done
        pass


def test_a_gift_being_charged_refuses_another_card_sent_at_the_same_time(
    client, tasks, localstripe
):
    started = client.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "EUR", "email": "two.cards@example.org"},
    ).json()
    gift = Donation.objects.get()

    with one_card_at_a_time(f"donation-{gift.pk}", "pm_being_charged"):
        other = client.post(started["payUrl"], {"payment_method": create_payment_method()})

    assert other.status_code == 400
    assert "another card" in other.json()["errors"]["card"][0]
    gift.refresh_from_db()
    assert (gift.attempts, gift.stripe_payment_intent_id) == (0, None)
    paid = client.post(started["payUrl"], {"payment_method": create_payment_method(CARD_OK)})
    assert paid.json()["status"] == "succeeded"


def test_a_join_being_paid_refuses_another_card_sent_at_the_same_time(client, tasks, localstripe):
    client.force_login(UserFactory())
    started = client.post(
        reverse("members:join_start"), {"amount": "10", "currency": "USD", "interval": "month"}
    ).json()
    membership = Membership.objects.get()

    with one_card_at_a_time(f"membership-{membership.pk}", "pm_being_charged"):
        other = client.post(started["confirmUrl"], {"payment_method": create_payment_method()})

    assert other.status_code == 400
    membership.refresh_from_db()
    assert membership.stripe_subscription_id is None  # nothing made at Stripe
    paid = client.post(started["confirmUrl"], {"payment_method": create_payment_method()})
    assert paid.json()["status"] == "succeeded"
    assert not Payment.objects.filter(donation__isnull=False).exists()
