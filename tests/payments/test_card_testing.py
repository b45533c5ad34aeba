"""Card testing around the limits: every failed card check counts, a start's card attempts
are bounded, and a source that fails too often is blocked for a while.

The real path first: gifts started through the page, each card entered the way the
page's Stripe.js makes it (`createPaymentMethod`) and sent to our pay call, which
charges it (a decline is a failed card check there, at the `payment` stage), and
Stripe's signed `payment_intent.payment_failed` about the same decline, processed by
the worker. The emulator's card checks are tested too: a card declined when charged,
and (for the card update form, which still sets a card up first) one declined while
it is set up (`setup_intent.setup_failed`, sent by the shim as Stripe sends it). Then
the limits themselves, with Stripe pointed at a closed port: a start the checks let
through answers 502, one they stop answers 429.
"""

import uuid
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.ratelimit import email_key
from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.models import (
    CardCheckFailure,
    CardCheckSource,
    CardTestingBlock,
    Donation,
    Payment,
    StripeEvent,
)
from payments.states import DonationStatus, EventStatus
from payments.stripe_gateway.errors import DECLINED
from tests.factories import DonorFactory, UserFactory
from tests.support import stripe_payloads as payloads
from tests.support.admin import staff
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_DECLINED_AT_SETUP,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_setup,
    create_payment_method,
)
from tests.support.webhooks import post_event

TESTER = "203.0.113.66"
ELSEWHERE = "198.51.100.20"
# Cards Stripe (and the emulator) decline when they are charged: each its own fingerprint,
# as a card tester's cards are.
DECLINED_CARDS = ["4000000000000002", "4000000000009995", "4000000000009987", "4000000000000069"]
LET_THROUGH = 502  # past every check; only the closed Stripe port stopped it
SETTLED = [EventStatus.PROCESSED, EventStatus.IGNORED]


def give_start(client, *, ip: str = ELSEWHERE, email: str = "guest@example.org"):
    return client.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "EUR", "email": email},
        REMOTE_ADDR=ip,
    )


def gift_membership_start(client, *, ip: str = ELSEWHERE, email: str = "giver@example.org"):
    return client.post(
        reverse("gifts:start"),
        {
            "months": "1",
            "amount": "30",
            "currency": "EUR",
            "email": email,
            "name": "Jo Giver",
            "recipient_email": "friend@example.org",
            "send_on": timezone.localdate().isoformat(),
        },
        REMOTE_ADDR=ip,
    )


def join_start(client, *, ip: str = ELSEWHERE):
    return client.post(
        reverse("members:join_start"),
        {"amount": "10", "currency": "USD", "interval": "month"},
        REMOTE_ADDR=ip,
    )


def card_update_start(client, *, ip: str = ELSEWHERE):
    return client.post(reverse("members:card_start"), REMOTE_ADDR=ip)


def started(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def pay(client, start: dict, card: str, *, ip: str = ELSEWHERE):
    """The page's pay call with `card`, the payment method Stripe.js made from the card
    entered (`create_payment_method`)."""
    return client.post(start["payUrl"], {"payment_method": card}, REMOTE_ADDR=ip)


def pay_with(client, start: dict, number: str, *, ip: str = ELSEWHERE) -> dict:
    """A card with this number entered in the page and sent to the pay call: its answer."""
    response = pay(client, start, create_payment_method(number), ip=ip)
    assert response.status_code == 200, response.content
    return response.json()


def decline_at_setup(secret: str, *numbers: str) -> None:
    """Stripe.js confirmCardSetup with each card in turn, each one declined."""
    for number in numbers:
        answer = confirm_card_setup(secret, number)
        assert answer["error"]["code"] == "card_declined", answer


def donation_of(start: dict) -> Donation:
    return Donation.objects.get(public_id=start["donation"])


def settled_events(type: str, count: int) -> list[StripeEvent]:
    """Wait until the worker has dealt with `count` events of this type; returns them."""

    def settled():
        events = list(StripeEvent.objects.filter(type=type, status__in=SETTLED))
        return events if len(events) >= count else None

    return wait_until(settled)


def fail_checks(
    count: int,
    *,
    ip: str | None = None,
    email: str = "",
    user=None,
    card: str | None = None,
    now=None,
) -> None:
    """`count` failed card checks of starts from these sources, as Stripe reports them."""
    starter = card_testing.Starter(
        label="gift test", ip=ip, email=email, user_id=user.pk if user else None
    )
    for _ in range(count):
        failure = card_testing.CardFailure(key=f"test:{uuid.uuid4()}", stage="payment", card=card)
        card_testing.record_failure(failure, starter, now=now)


# --- One start: a bounded number of cards ------------------------------------------------


def test_a_gift_tried_with_card_after_card_is_closed_after_the_bound_and_takes_no_more_cards(
    client, tasks, stripe_webhooks, settings
):
    settings.DONATION_MAX_CARD_ATTEMPTS = 3
    gift = started(give_start(client, ip=TESTER))

    answers = [pay_with(client, gift, number, ip=TESTER) for number in DECLINED_CARDS[:3]]

    assert [(answer["status"], answer["anotherCard"]) for answer in answers] == [
        ("failed", True),
        ("failed", True),
        ("failed", False),
    ]
    assert answers[0]["error"] == DECLINED
    assert answers[2]["error"] == f"{DECLINED} {card_testing.START_AGAIN}"
    donation = donation_of(gift)
    assert (donation.status, donation.attempts, donation.card_failures) == (
        DonationStatus.ABANDONED,
        3,
        3,
    )
    assert donation.client_ip == TESTER
    cards = CardCheckFailure.objects.values_list("card_fingerprint", flat=True)
    assert len(set(cards)) == 3  # three cards, each counted once
    last_attempt = donation.stripe_payment_intent_id
    assert gateway.retrieve_payment_intent(last_attempt).status == "canceled"
    paying = pay(client, gift, create_payment_method(CARD_OK), ip=TESTER)
    assert paying.status_code == 400
    assert paying.json() == {"error": card_testing.DONATION_ATTEMPTS_USED_UP}
    settled_events("payment_intent.payment_failed", 3)
    donation.refresh_from_db()
    assert (donation.attempts, donation.card_failures) == (3, 3)
    assert donation.stripe_payment_intent_id == last_attempt  # the good card was not charged
    assert donation.status == DonationStatus.ABANDONED
    assert not Payment.objects.exists()


def test_each_declined_card_is_counted_once_with_its_address_email_and_card(
    client, tasks, stripe_webhooks
):
    gift = started(give_start(client, ip=TESTER, email="Reader+News@Example.org"))
    card = create_payment_method(DECLINED_CARDS[0])

    declined = pay(client, gift, card, ip=TESTER).json()

    assert (declined["status"], declined["anotherCard"]) == ("failed", True)
    settled_events("payment_intent.payment_failed", 1)
    failure = CardCheckFailure.objects.get()
    assert (failure.stage, failure.client_ip, failure.email, failure.user_id) == (
        "payment",
        TESTER,
        "reader@example.org",
        None,
    )
    assert failure.card_fingerprint == gateway.retrieve_payment_method(card).card_fingerprint
    assert donation_of(gift).card_failures == 1
    assert donation_of(gift).status == DonationStatus.FAILED
    # Another card may follow, for the same gift
    assert pay_with(client, gift, CARD_OK, ip=TESTER)["status"] == "succeeded"
    assert CardCheckFailure.objects.count() == 1


def test_a_declined_payment_counts_once_though_our_pay_call_and_stripes_event_both_report_it(
    client, tasks, stripe_webhooks
):
    gift = started(give_start(client, ip=TESTER))

    declined = pay_with(client, gift, CARD_DECLINED_ON_CHARGE, ip=TESTER)

    assert (declined["status"], declined["error"]) == ("failed", DECLINED)
    assert donation_of(gift).card_failures == 1  # our pay call counted it
    (event,) = settled_events("payment_intent.payment_failed", 1)
    assert event.status == EventStatus.PROCESSED
    assert CardCheckFailure.objects.count() == 1
    assert CardCheckFailure.objects.get().stage == "payment"
    assert CardCheckFailure.objects.get().card_fingerprint
    assert donation_of(gift).card_failures == 1


def test_a_payment_failure_event_in_stripes_current_shape_counts_once_however_often_delivered(
    client, tasks, localstripe
):
    gift = started(give_start(client, ip=TESTER))
    donation = donation_of(gift)
    intent = payloads.payment_intent(
        status="requires_payment_method",
        latest_charge=payloads.new_id("ch"),  # the declined charge
        metadata={"patronage_donation": str(donation.public_id), "patronage_kind": "one_time"},
        error="Your card was declined.",
        card="a1b2c3d4e5f60718",
    )
    event = payloads.event("payment_intent.payment_failed", intent)

    for delivery in (event, event, payloads.event("payment_intent.payment_failed", intent)):
        assert post_event(client, delivery).status_code == 200
    events = settled_events("payment_intent.payment_failed", 2)

    assert {stored.status for stored in events} == {EventStatus.PROCESSED}
    failure = CardCheckFailure.objects.get()
    assert (failure.stage, failure.card_fingerprint) == ("payment", "a1b2c3d4e5f60718")
    assert donation_of(gift).card_failures == 1


def test_a_setup_failure_for_no_gift_or_membership_of_ours_is_ignored_with_the_reason(
    client, tasks, localstripe
):
    setup = payloads.setup_intent(
        metadata={"patronage_donation": str(uuid.uuid4())}, error="Your card was declined."
    )

    post_event(client, payloads.event("setup_intent.setup_failed", setup))

    (event,) = settled_events("setup_intent.setup_failed", 1)
    assert event.status == EventStatus.IGNORED
    assert "is not for a card form of ours" in event.ignored_reason
    assert not CardCheckFailure.objects.exists()


# --- The emulator reports failed card checks as Stripe does (tests/support/localstripe_shim)


def new_customer() -> str:
    return gateway.create_customer(
        email="shim@example.org", name="", idempotency_key=f"shim-{uuid.uuid4()}"
    )


def new_setup_intent() -> gateway.SetupIntentInfo:
    return gateway.create_setup_intent(
        customer_id=new_customer(),
        metadata={"patronage_membership": str(uuid.uuid4())},
        usage="off_session",
        idempotency_key=f"shim-{uuid.uuid4()}",
    )


def test_a_card_declined_when_charged_is_named_on_the_payment_intent_with_its_fingerprint(
    localstripe,
):
    card = create_payment_method(CARD_DECLINED_ON_CHARGE)

    with pytest.raises(gateway.CardDeclined) as declined:
        gateway.create_payment_intent(
            amount=2500,
            currency="EUR",
            customer_id=new_customer(),
            payment_method_id=card,
            metadata={"patronage_donation": str(uuid.uuid4())},
            idempotency_key=f"shim-{uuid.uuid4()}",
        )

    assert declined.value.user_message == DECLINED
    intent = gateway.retrieve_payment_intent(declined.value.payment_intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.error_message == DECLINED
    assert intent.charge_id  # the declined charge names the failure
    assert intent.card_fingerprint == gateway.retrieve_payment_method(card).card_fingerprint


def test_a_card_declined_at_setup_is_named_on_the_setup_intent_with_its_fingerprint(localstripe):
    setup = new_setup_intent()

    decline_at_setup(setup.client_secret, CARD_DECLINED_AT_SETUP)
    decline_at_setup(setup.client_secret, CARD_DECLINED_AT_SETUP)

    declined = gateway.retrieve_setup_intent(setup.id)
    assert declined.status == "requires_payment_method"
    assert declined.error_message == DECLINED
    assert declined.failed_payment_method_id and declined.card_fingerprint
    again = new_setup_intent()
    decline_at_setup(again.client_secret, CARD_DECLINED_AT_SETUP)
    assert gateway.retrieve_setup_intent(again.id).card_fingerprint == declined.card_fingerprint


def test_a_setup_intent_that_succeeded_is_not_canceled_but_read_back(localstripe):
    setup = new_setup_intent()
    confirm_card_setup(setup.client_secret, CARD_OK)

    answer = gateway.cancel_setup_intent(setup.id, idempotency_key=f"test-{uuid.uuid4()}")

    assert answer.status == "succeeded"
    assert gateway.retrieve_setup_intent(setup.id).card_fingerprint  # the card, expanded


def test_a_waiting_setup_intent_is_canceled_and_confirms_nothing_more(localstripe):
    setup = new_setup_intent()

    answer = gateway.cancel_setup_intent(setup.id, idempotency_key=f"test-{uuid.uuid4()}")

    assert answer.status == "canceled"
    refused = confirm_card_setup(setup.client_secret, CARD_OK)
    assert refused["error"]["code"] == "setup_intent_unexpected_state"
    assert gateway.cancel_setup_intent("seti_unknown", idempotency_key="test-unknown") is None


# --- Sources: an address, an email, a card ------------------------------------------------


def test_failures_from_one_address_block_its_gifts_memberships_and_card_updates_in_admin_too(
    client, tasks, stripe_webhooks, settings, staff_client
):
    settings.CARD_FAILURES_PER_IP = "3/h"
    settings.DONATION_MAX_CARD_ATTEMPTS = 10
    gift = started(give_start(client, ip=TESTER, email="first@example.org"))

    answers = [pay_with(client, gift, number, ip=TESTER) for number in DECLINED_CARDS[:3]]

    block = CardTestingBlock.objects.get(source=CardCheckSource.IP)
    assert (block.value, block.failures) == (TESTER, 3)
    assert not CardTestingBlock.objects.exclude(source=CardCheckSource.IP).exists()
    # The start that tripped it is closed (10 attempts were allowed): no more cards for it.
    assert [answer["anotherCard"] for answer in answers] == [True, True, False]
    assert answers[2]["error"] == f"{DECLINED} {card_testing.START_AGAIN}"
    assert donation_of(gift).status == DonationStatus.ABANDONED
    paying = pay(client, gift, create_payment_method(CARD_OK), ip=TESTER)
    assert paying.json() == {"error": card_testing.DONATION_ATTEMPTS_USED_UP}
    refused = give_start(client, ip=TESTER, email="second@example.org")
    assert refused.status_code == 429
    assert refused.json() == {"error": card_testing.SOURCE_BLOCKED, "challenge": False}
    assert gift_membership_start(client, ip=TESTER).status_code == 429
    member = UserFactory()
    membership_with_card(member)
    client.force_login(member)
    assert join_start(client, ip=TESTER).status_code == 429
    assert card_update_start(client, ip=TESTER).status_code == 429
    client.logout()
    assert give_start(client, ip=ELSEWHERE, email="second@example.org").status_code == 200

    page = staff_client.get(reverse("admin:payments_cardtestingblock_changelist")).content.decode()
    assert TESTER in page
    assert "3 failed card checks within 1 hour" in page
    assert "BLOCKED" in page


def test_failures_under_tagged_addresses_count_as_one_email_and_block_it(
    client, tasks, stripe_webhooks, settings
):
    settings.CARD_FAILURES_PER_EMAIL = "2/h"
    one = started(give_start(client, ip="203.0.113.1", email="reader+1@example.org"))
    two = started(give_start(client, ip="203.0.113.2", email="READER+2@example.org"))

    assert pay_with(client, one, DECLINED_CARDS[0], ip="203.0.113.1")["status"] == "failed"
    assert pay_with(client, two, DECLINED_CARDS[1], ip="203.0.113.2")["status"] == "failed"

    block = CardTestingBlock.objects.get(source=CardCheckSource.EMAIL)
    assert (block.value, block.failures) == ("reader@example.org", 2)
    refused = give_start(client, ip="203.0.113.3", email="reader+3@example.org")
    assert refused.status_code == 429
    assert (
        gift_membership_start(client, ip="203.0.113.4", email="reader@example.org").status_code
        == 429
    )
    assert give_start(client, ip="203.0.113.3", email="someone@example.org").status_code == 200


def test_a_card_declined_too_often_is_never_charged_again(client, tasks, stripe_webhooks, settings):
    settings.CARD_FAILURES_PER_CARD = "2/h"
    for n in range(2):
        gift = started(give_start(client, ip=f"203.0.113.{n + 1}", email=f"r{n}@example.org"))
        assert pay_with(client, gift, CARD_DECLINED_ON_CHARGE)["status"] == "failed"
    block = CardTestingBlock.objects.get()
    assert block.source == CardCheckSource.CARD

    third = started(give_start(client, ip="203.0.113.9", email="r9@example.org"))
    card = create_payment_method(CARD_DECLINED_ON_CHARGE)  # the same card, entered anew
    paying = pay(client, third, card)

    assert gateway.retrieve_payment_method(card).card_fingerprint == block.value
    assert paying.status_code == 400
    assert paying.json() == {"errors": {"card": [card_testing.CARD_BLOCKED]}}
    assert donation_of(third).attempts == 0  # no PaymentIntent was made
    assert donation_of(third).stripe_payment_intent_id is None
    # The reader may use another card for the same gift.
    assert pay_with(client, third, CARD_OK)["status"] == "succeeded"


# --- The limits themselves (Stripe unreachable) -------------------------------------------


@pytest.fixture
def stripe_unreachable(settings):
    """Any call to Stripe fails at once (closed port, no retries) and the view answers 502."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def membership_with_card(user) -> Membership:
    """A paid membership whose card the member may replace."""
    donor = DonorFactory(email=user.email, user=user, stripe_customer_id=f"cus_{uuid.uuid4().hex}")
    return Membership.objects.create(
        user=user,
        email=user.email,
        donor=donor,
        kind=MembershipKind.PAID,
        status=MembershipStatus.ACTIVE,
        amount=1000,
        currency="USD",
        interval="month",
        stripe_subscription_id=f"sub_{uuid.uuid4().hex}",
    )


def refuse_everyone(request) -> bool:
    return False


def let_everyone_through(request) -> bool:
    return True


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("reader+1@example.org", "reader@example.org"),
        ("Reader+News+Daily@Example.ORG", "reader@example.org"),
        (" reader@example.org ", "reader@example.org"),
        ("+tag@example.org", "+tag@example.org"),  # no name left without the tag: kept
        ("first.last@example.org", "first.last@example.org"),
    ],
)
def test_an_email_is_one_bucket_whatever_its_casing_and_plus_tag(email, key):
    assert email_key(email) == key


def test_tagged_addresses_share_one_start_limit(client, db, settings, stripe_unreachable):
    settings.DONATION_RATE_PER_EMAIL = "2/h"

    answers = [
        give_start(client, ip=f"203.0.113.{n}", email=f"reader+{n}@example.org").status_code
        for n in range(1, 4)
    ]

    assert answers == [LET_THROUGH, LET_THROUGH, 429]


def test_a_strangers_five_starts_in_a_members_name_do_not_stop_the_signed_in_member(
    client, db, stripe_unreachable
):
    member = UserFactory()
    stranger = Client()

    guests = [
        give_start(stranger, ip=f"203.0.113.{n}", email=member.email).status_code for n in range(6)
    ]
    client.force_login(member)

    assert guests == [LET_THROUGH] * 5 + [429]
    assert give_start(client, ip=ELSEWHERE, email=member.email).status_code == LET_THROUGH
    assert gift_membership_start(client, ip=ELSEWHERE).status_code == LET_THROUGH


def test_strangers_failing_cards_in_a_members_name_block_guests_not_the_member(
    client, db, stripe_unreachable
):
    member = UserFactory()
    fail_checks(5, email=member.email.replace("@", "+x@"))
    assert CardTestingBlock.objects.get().source == CardCheckSource.EMAIL

    assert give_start(Client(), ip=ELSEWHERE, email=member.email).status_code == 429
    client.force_login(member)
    assert give_start(client, ip=ELSEWHERE).status_code == LET_THROUGH
    assert join_start(client, ip=ELSEWHERE).status_code == LET_THROUGH


def test_a_members_own_failed_cards_block_their_account_everywhere(client, db, stripe_unreachable):
    member = UserFactory()
    membership_with_card(member)
    fail_checks(5, user=member)
    client.force_login(member)

    assert give_start(client, ip=ELSEWHERE).status_code == 429
    assert join_start(client, ip=ELSEWHERE).status_code == 429
    assert card_update_start(client, ip=ELSEWHERE).status_code == 429
    # A guest giving with the member's address is not the member: recorded (that donor's
    # Stripe customer is known, so a start asks Stripe nothing now).
    assert give_start(Client(), ip=ELSEWHERE, email=member.email).status_code == 200


def test_the_challenge_lets_a_blocked_source_through_when_it_is_passed(
    client, db, settings, stripe_unreachable
):
    fail_checks(10, ip=TESTER)
    member = UserFactory()
    client.force_login(member)

    settings.DONATION_CHALLENGE = f"{__name__}.refuse_everyone"
    refused = give_start(client, ip=TESTER)
    assert refused.status_code == 429
    assert refused.json() == {"error": card_testing.SOURCE_BLOCKED_CHALLENGE, "challenge": True}
    assert join_start(client, ip=TESTER).status_code == 429

    settings.DONATION_CHALLENGE = f"{__name__}.let_everyone_through"
    assert give_start(client, ip=TESTER).status_code == LET_THROUGH
    assert join_start(client, ip=TESTER).status_code == LET_THROUGH


def test_failures_from_addresses_of_one_ipv6_network_block_the_network(
    client, db, stripe_unreachable, settings
):
    """A card tester with a /64 moves to a fresh address for each card: it counts as one."""
    settings.CARD_FAILURES_PER_IP = "3/h"
    for n in range(3):
        fail_checks(1, ip=f"2001:db8:7:7::{n + 1}", email=f"tester{n}@example.org")

    block = CardTestingBlock.objects.get(source=CardCheckSource.IP)
    assert (block.value, block.failures) == ("2001:db8:7:7::/64", 3)
    assert give_start(client, ip="2001:db8:7:7:abcd::99").status_code == 429
    assert give_start(client, ip="2001:db8:7:8::1").status_code == LET_THROUGH  # another /64


def test_without_a_challenge_a_blocked_source_waits_and_a_block_expires(
    client, db, stripe_unreachable
):
    two_hours_ago = timezone.now() - timedelta(hours=2)
    fail_checks(10, ip=TESTER, now=two_hours_ago)  # blocked then, for an hour
    block = CardTestingBlock.objects.get()
    assert block.until == two_hours_ago + timedelta(hours=1)

    assert give_start(client, ip=TESTER).status_code == LET_THROUGH

    fail_checks(10, ip=ELSEWHERE)
    assert give_start(client, ip=ELSEWHERE).status_code == 429
    assert give_start(client, ip=TESTER).status_code == LET_THROUGH


def test_blocks_are_shown_to_staff_with_source_value_reason_until_and_counts(staff_client, db):
    member = UserFactory(email="member@example.org")
    fail_checks(10, ip=TESTER)
    fail_checks(5, email="Guest+1@Example.org")
    fail_checks(5, user=member)
    fail_checks(5, card="f1ngerpr1nt00000")

    page = staff_client.get(reverse("admin:payments_cardtestingblock_changelist"))

    content = page.content.decode()
    assert page.status_code == 200
    for shown in (TESTER, "guest@example.org", "member@example.org", "f1ngerpr1nt00000"):
        assert shown in content
    assert "10 failed card checks within 1 hour" in content
    assert content.count("BLOCKED") >= 4


def lift(client: Client, block: CardTestingBlock) -> list[str]:
    response = client.post(
        reverse("admin:payments_cardtestingblock_changelist"),
        {"action": "lift", "_selected_action": [block.pk]},
        follow=True,
    )
    return [str(message) for message in get_messages(response.wsgi_request)]


def offered_actions(client: Client) -> set[str]:
    form = client.get(reverse("admin:payments_cardtestingblock_changelist")).context["action_form"]
    return set() if form is None else {value for value, _ in form.fields["action"].choices if value}


def test_view_only_staff_see_blocks_but_cannot_lift_them(client, db, stripe_unreachable):
    fail_checks(10, ip=TESTER)
    block = CardTestingBlock.objects.get()
    viewer = staff("payments.view_cardtestingblock")

    assert viewer.get(reverse("admin:payments_cardtestingblock_changelist")).status_code == 200
    assert offered_actions(viewer) == set()
    lift(viewer, block)

    block.refresh_from_db()
    assert block.until > timezone.now() and block.lifted_at is None
    assert give_start(client, ip=TESTER).status_code == 429


def test_staff_with_the_permission_lift_a_block_and_what_came_before_is_forgiven(
    client, db, stripe_unreachable
):
    fail_checks(10, ip=TESTER)
    block = CardTestingBlock.objects.get()
    lifter = staff("payments.view_cardtestingblock", "payments.lift_cardtestingblock")

    assert offered_actions(lifter) == {"lift"}
    assert lift(lifter, block) == ["1 block(s) lifted."]

    block.refresh_from_db()
    assert block.lifted_at is not None and block.lifted_by is not None
    assert give_start(client, ip=TESTER).status_code == LET_THROUGH
    fail_checks(1, ip=TESTER)  # one more failure does not re-block on the old ones
    assert give_start(client, ip=TESTER).status_code == LET_THROUGH
