"""Card testing (payments/card_testing.py): how failed card checks are counted and when a
source is blocked, with the clock in the test's hands. Database only, no Stripe.

tests/payments/test_card_testing.py plays whole attacks through Stripe's emulator and
the worker; here are the counting rules one by one.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import card_testing
from payments import stripe_gateway as gateway
from payments.card_testing import CardFailure, Starter
from payments.models import CardCheckFailure, CardCheckSource, CardTestingBlock
from payments.states import DonationStatus
from tests.factories import CardCheckFailureFactory, DonationFactory, UserFactory
from tests.support import stripe_payloads as payloads

pytestmark = pytest.mark.django_db

TESTER = "203.0.113.66"


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.CARD_FAILURES_PER_IP = "3/h"
    settings.CARD_FAILURES_PER_EMAIL = "2/h"
    settings.CARD_FAILURES_PER_CARD = "4/h"
    settings.CARD_BLOCK_SECONDS = 1800
    settings.DONATION_MAX_CARD_ATTEMPTS = 3


_keys = iter(range(10**6))


def fail(
    count: int = 1,
    *,
    ip: str | None = None,
    email: str = "",
    user_id: int | None = None,
    card: str | None = None,
    now=None,
) -> list[bool]:
    """`count` new failed card checks from these sources; whether each was counted."""
    starter = Starter(label="one-time test", ip=ip, email=email, user_id=user_id)
    return [
        card_testing.record_failure(
            CardFailure(key=f"test:{next(_keys)}", stage="setup", card=card), starter, now=now
        )
        for _ in range(count)
    ]


def blocks() -> set[tuple[str, str]]:
    return set(CardTestingBlock.objects.values_list("source", "value"))


# --- Counting ------------------------------------------------------------------------------


def test_the_failure_that_reaches_an_address_threshold_blocks_that_address():
    now = timezone.now()
    fail(2, ip=TESTER, now=now)
    assert blocks() == set()

    fail(ip=TESTER, now=now)

    block = CardTestingBlock.objects.get()
    assert (block.source, block.value, block.failures) == (CardCheckSource.IP, TESTER, 3)
    assert block.reason == "3 failed card checks within 1 hour"
    assert (block.blocked_at, block.until) == (now, now + timedelta(seconds=1800))
    assert card_testing.active_block(ip=TESTER, now=now) == block
    assert card_testing.active_block(ip="203.0.113.67", now=now) is None


def test_one_failure_reported_twice_counts_once():
    starter = Starter(label="one-time test", ip=TESTER)
    failure = CardFailure(key="setup:seti_1:pm_1", stage="setup")

    assert card_testing.record_failure(failure, starter) is True
    assert card_testing.record_failure(failure, starter) is False
    assert CardCheckFailure.objects.count() == 1


def test_failures_older_than_the_window_do_not_count():
    now = timezone.now()
    fail(2, ip=TESTER, now=now - timedelta(minutes=61))

    fail(2, ip=TESTER, now=now)

    assert blocks() == set()


def test_a_guests_email_counts_in_one_bucket_whatever_its_casing_and_tag():
    fail(email="Reader+one@Example.org")
    fail(email="reader+two@example.org")

    assert blocks() == {(CardCheckSource.EMAIL, "reader@example.org")}
    assert set(CardCheckFailure.objects.values_list("email", flat=True)) == {"reader@example.org"}


def test_a_member_counts_by_account_never_by_the_email_a_stranger_can_type():
    member = UserFactory()

    fail(2, email=member.email, user_id=member.pk)

    block = CardTestingBlock.objects.get()
    assert (block.source, block.value, block.user) == (
        CardCheckSource.ACCOUNT,
        str(member.pk),
        member,
    )
    assert set(CardCheckFailure.objects.values_list("email", "user")) == {("", member.pk)}
    assert card_testing.active_block(email=member.email) is None  # guests with it still may
    assert card_testing.active_block(user_id=member.pk) == block


def test_one_card_tried_from_many_addresses_is_blocked():
    for number in range(4):
        fail(ip=f"198.51.100.{number}", card="fp_stolen")

    assert blocks() == {(CardCheckSource.CARD, "fp_stolen")}
    assert card_testing.active_block(card="fp_stolen") is not None


def test_a_threshold_of_zero_never_blocks(settings):
    settings.CARD_FAILURES_PER_IP = "0/h"

    fail(20, ip=TESTER)

    assert blocks() == set()
    assert CardCheckFailure.objects.count() == 20  # still counted, as evidence


def test_an_address_that_is_not_one_is_not_counted_as_one():
    fail(3, ip="not-an-address")

    assert blocks() == set()
    assert set(CardCheckFailure.objects.values_list("client_ip", flat=True)) == {None}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("", None),
        (None, None),
        ("203.0.113.256", None),
        ("203.0.113.7, 10.0.0.1", None),
    ],
)
def test_client_addresses_are_stored_in_one_form(typed, stored):
    assert card_testing.valid_ip(typed) == stored


# --- Blocks over time ----------------------------------------------------------------------


def test_a_block_ends_and_a_source_that_trips_again_is_blocked_anew():
    start = timezone.now()
    fail(3, ip=TESTER, now=start)
    later = start + timedelta(hours=2)
    assert card_testing.active_block(ip=TESTER, now=later) is None

    fail(3, ip=TESTER, now=later)

    block = CardTestingBlock.objects.get()
    assert (block.times_blocked, block.blocked_at) == (2, later)
    assert block.until == later + timedelta(seconds=1800)


def test_more_failures_while_blocked_extend_the_same_block():
    start = timezone.now()
    fail(3, ip=TESTER, now=start)

    fail(ip=TESTER, now=start + timedelta(minutes=10))

    block = CardTestingBlock.objects.get()
    assert (block.times_blocked, block.failures, block.blocked_at) == (1, 4, start)
    assert block.until == start + timedelta(minutes=10, seconds=1800)


def test_staff_lifting_a_block_forgive_the_failures_before_it():
    staff = UserFactory(is_staff=True)
    fail(3, ip=TESTER)
    block = CardTestingBlock.objects.get()

    assert card_testing.lift_blocks([block], by=staff) == 1
    assert card_testing.active_block(ip=TESTER) is None
    fail(2, ip=TESTER)  # 5 in the hour, 2 since the lift

    block.refresh_from_db()
    assert (block.lifted_by, block.times_blocked) == (staff, 1)
    assert card_testing.active_block(ip=TESTER) is None
    fail(ip=TESTER)  # the third since the lift
    assert card_testing.active_block(ip=TESTER) is not None


def test_a_lifted_or_ended_block_cannot_be_lifted_again():
    staff = UserFactory(is_staff=True)
    fail(3, ip=TESTER)
    block = CardTestingBlock.objects.get()
    card_testing.lift_blocks([block], by=staff)

    assert card_testing.lift_blocks([block], by=staff) == 0


def test_the_block_with_the_latest_end_is_the_one_in_force():
    now = timezone.now()
    fail(3, ip=TESTER, now=now - timedelta(minutes=20))
    fail(2, email="tester@example.org", now=now)

    found = card_testing.active_block(ip=TESTER, email="tester@example.org", now=now)

    assert (found.source, found.value) == (CardCheckSource.EMAIL, "tester@example.org")


def test_failures_too_old_to_count_anywhere_are_deleted(settings):
    settings.CARD_FAILURES_PER_CARD = "4/d"  # the longest window: a day
    now = timezone.now()
    kept = CardCheckFailureFactory(created_at=now - timedelta(hours=23))
    CardCheckFailureFactory(created_at=now - timedelta(hours=25))

    assert card_testing.forget_old_failures(now=now) == 1
    assert list(CardCheckFailure.objects.all()) == [kept]


# --- What failed, named once ---------------------------------------------------------------


def test_a_declined_setup_is_named_by_its_intent_and_the_card_tried():
    setup = gateway.setup_intent_from_object(
        payloads.setup_intent(id="seti_1", error="Declined.", card="fp_1")
    )

    failure = card_testing.setup_failure(setup, event_id="evt_1")

    assert failure.key == f"setup:seti_1:{setup.failed_payment_method_id}"
    assert (failure.stage, failure.card, failure.setup_intent_id) == ("setup", "fp_1", "seti_1")


def test_a_declined_setup_without_its_card_is_named_by_the_event():
    setup = gateway.setup_intent_from_object(payloads.setup_intent(id="seti_1"))
    assert card_testing.setup_failure(setup, event_id="evt_9").key == "setup:seti_1:evt_9"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"latest_charge": "ch_1"}, "payment:pi_1:ch_1"),  # our answer and Stripe's event agree
        ({"latest_charge": None}, "payment:pi_1:card_declined"),  # failed before any charge
    ],
)
def test_a_declined_payment_is_named_by_its_intent_and_its_charge_or_error(changes, key):
    built = payloads.payment_intent(id="pi_1", status="requires_payment_method", error="No.")
    built.update(changes)

    failure = card_testing.payment_failure(gateway.intent_from_object(built), card="fp_given")

    assert (failure.key, failure.stage, failure.payment_intent_id) == (key, "payment", "pi_1")
    assert failure.card == "fp_given"  # Stripe did not say which card


def test_a_declined_payment_prefers_the_card_stripe_names():
    built = payloads.payment_intent(status="requires_payment_method", error="No.", card="fp_s")
    failure = card_testing.payment_failure(gateway.intent_from_object(built), card="fp_given")
    assert failure.card == "fp_s"


# --- A gift's own bound ----------------------------------------------------------------------


@pytest.fixture
def canceled_at_stripe(monkeypatch) -> list[str]:
    """What would be canceled at Stripe (nothing is sent)."""
    canceled: list[str] = []
    monkeypatch.setattr(
        gateway, "cancel_setup_intent", lambda id, idempotency_key: canceled.append(id)
    )
    monkeypatch.setattr(
        gateway, "cancel_payment_intent", lambda id, idempotency_key: canceled.append(id)
    )
    return canceled


def decline(donation, number: int) -> bool:
    """Card `number` declined on the gift's PaymentIntent."""
    failure = CardFailure(
        key=f"payment:{donation.pk}:{number}",
        stage="payment",
        card=f"fp_{number}",
        payment_intent_id=donation.stripe_payment_intent_id,
    )
    return card_testing.count_donation_failure(donation, failure)


def test_a_gift_stays_open_until_its_last_card_attempt_then_is_closed_at_stripe(
    canceled_at_stripe, settings
):
    settings.CARD_FAILURES_PER_EMAIL = "10/h"  # no source blocked: the gift's own bound acts
    donation = DonationFactory(stripe_payment_intent_id="pi_gift", client_ip="198.51.100.9")

    assert [decline(donation, 1), decline(donation, 2)] == [False, False]
    assert (donation.status, canceled_at_stripe) == (DonationStatus.AWAITING_CARD, [])

    assert decline(donation, 3) is True

    donation.refresh_from_db()
    assert (donation.status, donation.card_failures) == (DonationStatus.ABANDONED, 3)
    assert canceled_at_stripe == ["pi_gift"]
    assert card_testing.closed_for_card_testing(donation)


def test_a_gift_from_a_blocked_source_is_closed_at_its_next_failure(canceled_at_stripe):
    fail(3, ip=TESTER)
    donation = DonationFactory(stripe_payment_intent_id="pi_gift", client_ip=TESTER)

    assert decline(donation, 1) is True
    assert donation.status == DonationStatus.ABANDONED


def test_a_paid_gift_is_never_closed(canceled_at_stripe):
    donation = DonationFactory(status=DonationStatus.SUCCEEDED, card_failures=5)

    assert decline(donation, 1) is False
    assert (donation.status, donation.card_failures, canceled_at_stripe) == (
        DonationStatus.SUCCEEDED,
        6,
        [],
    )
    assert not card_testing.closed_for_card_testing(donation)


def test_a_members_gift_counts_against_their_account_a_guests_against_the_email():
    member = UserFactory()
    mine = card_testing.donation_starter(DonationFactory(user=member, client_ip=TESTER))
    guest = card_testing.donation_starter(DonationFactory(donor__email="Guest@Example.org"))

    assert (mine.user_id, mine.email, mine.ip) == (member.pk, "", TESTER)
    assert (guest.user_id, guest.email) == (None, "guest@example.org")
    assert guest.label.startswith("one-time ")
