"""What real Stripe does on the pinned API version and the emulator does not.

Each test here failed on the code that only had to satisfy localstripe: a
declined card's PaymentIntent lost, idempotency keys reused with other
parameters, invoices paid outside Stripe, dispute appeals, archived plans,
events that are not ours, objects in an old shape, which invoice payment
counts, the API version pinned and listed events filtered and bounded. And
what a card error tells the reader, and the card a page entered (Stripe.js
`createPaymentMethod`): read back by its id with the library's own request, no
SetupIntent opened for it.
"""

from datetime import timedelta

import pytest
import stripe
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from config.errors import Refused
from members.states import MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Dispute, Donation, Payment, Receipt, StripeEvent
from payments.services import inbox, ledger, refunds
from payments.states import DISPUTE, DisputeStatus, EventStatus, PaymentKind
from payments.stripe_gateway.parsing import payment_method_from_object
from tests.factories import UserFactory
from tests.members.memberships import _stripe, join
from tests.payments.donations import give
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.stripe_contract import route_for
from tests.support.stripejs import CARD_DECLINED_ON_CHARGE, CARD_OK, create_payment_method
from tests.support.webhooks import post_event

SETTLED = [EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.FAILED]


def deliver(client, event: dict) -> StripeEvent:
    assert post_event(client, event).status_code == 200, event["type"]
    return wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=event["id"], status__in=SETTLED).first()
    )


# --- The version ----------------------------------------------------------------------


def test_the_pinned_api_version_is_the_one_the_stripe_library_describes():
    # The library's typed parameters (the contract check) describe this version only.
    assert settings.STRIPE_API_VERSION == stripe._api_version._ApiVersion.CURRENT


def test_the_client_sends_the_pinned_api_version():
    assert gateway.client()._requestor._options.stripe_version == settings.STRIPE_API_VERSION


@pytest.mark.django_db
def test_an_event_in_another_api_version_is_flagged_in_admin(staff_client):
    ours = StripeEvent.objects.create(
        stripe_id="evt_ours",
        type="customer.created",
        api_version=settings.STRIPE_API_VERSION,
        stripe_created=timezone.now(),
        payload={},
    )
    other = StripeEvent.objects.create(
        stripe_id="evt_other",
        type="customer.created",
        api_version="2017-08-15",
        stripe_created=timezone.now(),
        payload={},
    )
    url = reverse("admin:payments_stripeevent_changelist")

    flagged = staff_client.get(url, {"api_version": "other"}).content.decode()

    assert (ours.in_our_api_version, other.in_our_api_version) == (True, False)
    assert "evt_other" in flagged and "evt_ours" not in flagged
    assert "2017-08-15" in flagged


# --- Errors -----------------------------------------------------------------------------


def declined_by_stripe(message: str, **error) -> gateway.CardDeclined:
    """What the gateway raises for Stripe's 402 `card_error` with `message` and `error`'s
    other fields (decline_code, payment_intent)."""

    def declined():
        raise stripe.CardError(
            message,
            None,
            "card_declined",
            http_status=402,
            json_body={
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "message": message,
                    **error,
                }
            },
        )

    with pytest.raises(gateway.CardDeclined) as raised:
        gateway._call(declined)
    return raised.value


def test_a_declined_card_keeps_the_id_of_its_payment_intent():
    declined = declined_by_stripe(
        "Your card was declined.",
        payment_intent={"id": "pi_declined", "object": "payment_intent"},
    )

    assert declined.payment_intent_id == "pi_declined"
    assert "card_declined" in declined.detail


def test_a_declined_card_is_told_in_our_words_not_stripes():
    declined = declined_by_stripe(
        "Your card has insufficient funds.", decline_code="insufficient_funds"
    )

    assert declined.user_message == gateway.card_message("card_declined", "insufficient_funds")
    assert "Your card has insufficient funds." in declined.detail  # Stripe's, for staff


def test_a_gift_declined_on_charge_is_linked_to_its_payment_intent(client, tasks, localstripe):
    started = client.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "declined@example.org"},
    ).json()
    card = create_payment_method(CARD_DECLINED_ON_CHARGE)

    declined = client.post(started["payUrl"], {"payment_method": card}).json()

    assert (declined["status"], declined["anotherCard"]) == ("failed", True)
    assert declined["error"] == gateway.card_message("card_declined")
    donation = Donation.objects.get()
    assert donation.stripe_payment_intent_id
    intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    assert intent.metadata[ledger.META_DONATION] == str(donation.public_id)


# --- The card the page entered ----------------------------------------------------------


def test_the_card_the_page_sent_is_read_with_the_pinned_libraries_own_request(
    localstripe, stripe_contract
):
    card = create_payment_method(CARD_OK)
    before = len(stripe_contract.requests)

    read = gateway.retrieve_payment_method(card)

    (request,) = stripe_contract.requests[before:]
    assert (request.method, request.path, request.params) == (
        "GET",
        f"/v1/payment_methods/{card}",
        {},
    )
    assert request.stripe_version == settings.STRIPE_API_VERSION
    route = route_for(request.method, request.path)
    assert route.template == "/v1/payment_methods/{payment_method}"
    assert [cls.__name__ for cls in route.params_classes()] == ["PaymentMethodRetrieveParams"]
    assert (read.id, read.customer_id) == (card, None)  # made in the page: nobody's yet
    assert read.card_fingerprint  # what card testing blocks a card by


def test_a_card_id_stripe_does_not_know_is_not_found_and_the_page_asks_for_the_card_again(
    client, tasks, localstripe
):
    with pytest.raises(gateway.ObjectNotFound):
        gateway.retrieve_payment_method("pm_1NotACardOfOurs")
    started = client.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "unknown-card@example.org"},
    ).json()

    for sent in ("pm_1NotACardOfOurs", "not a card", "seti_123"):
        answer = client.post(started["payUrl"], {"payment_method": sent})
        assert answer.status_code == 400, sent
        assert answer.json()["errors"] == {"card": ["Please enter your card details again."]}

    donation = Donation.objects.get()
    assert (donation.attempts, donation.stripe_payment_intent_id) == (0, None)


def test_gifts_and_joins_open_no_setup_intent(client, tasks, localstripe, stripe_contract):
    """The card is entered as a PaymentMethod and checked by the bank once, on the payment:
    no SetupIntent is opened (nor confirmed) before it, for a gift or a membership."""
    before = len(stripe_contract.requests)

    gift = give(client, amount="10", currency="USD", email="no-setup@example.org")
    client.force_login(UserFactory(email="no-setup-member@example.org"))
    membership = join(client, amount="10", currency="USD", interval="month")

    sent = [(r.method, r.path) for r in stripe_contract.requests[before:]]
    assert [path for _, path in sent if "setup_intent" in path] == []
    assert "setupClientSecret" not in gift
    assert membership.stripe_setup_intent_id == ""
    read = [path for method, path in sent if method == "GET" and "/payment_methods/" in path]
    assert len(set(read)) == 2  # each flow's card read back by the id its page sent


# --- Idempotency keys belong to one set of parameters -----------------------------------


def test_a_key_reused_with_other_parameters_is_a_new_request_not_a_refusal(stripe_proxy):
    first = gateway.create_customer(
        email="named@example.org", name="Ann", idempotency_key="customer-x"
    )
    again = gateway.create_customer(
        email="named@example.org", name="Ann", idempotency_key="customer-x"
    )
    renamed = gateway.create_customer(
        email="named@example.org", name="Anna", idempotency_key="customer-x"
    )

    assert first == again  # the same request replayed: one customer
    assert renamed != first  # Stripe would have answered 400 idempotency_error
    replayed = [seen.replayed for seen in stripe_proxy.requests]
    assert replayed == [False, True, False]


def test_a_gift_started_again_with_another_name_after_a_failure_goes_through(
    client, db, stripe_proxy, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_proxy.delay_next(3, path="/v1/customers")  # made in Stripe; its answer never arrives
    failed = client.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "again@example.org", "name": "Ann"},
    )
    assert failed.status_code == 502

    retried = client.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "again@example.org", "name": "Ann Lee"},
    )

    assert retried.status_code == 200, retried.content
    made = stripe_proxy.writes("/v1/customers")
    assert [seen.forwarded for seen in made] == [True, True]  # the lost one was made too
    assert made[0].idempotency_key != made[1].idempotency_key  # a new request, not a 400


def test_a_subscription_made_by_an_attempt_whose_answer_was_lost_is_found_not_duplicated(
    client, tasks, stripe_proxy, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    client.force_login(UserFactory(email="lost-answer@example.org"))
    started = client.post(
        reverse("members:join_start"), {"amount": "10", "currency": "USD", "interval": "month"}
    ).json()
    card = {"payment_method": create_payment_method(CARD_OK)}
    stripe_proxy.delay_next(5, path="/v1/subscriptions")
    lost = client.post(started["confirmUrl"], card)  # made in Stripe; its answer never arrives
    assert lost.status_code == 502
    stripe_proxy.recover()

    membership = join(client, amount="15")  # the reader tries again, with another amount

    customer = membership.donor.stripe_customer_id
    live = _stripe("GET", f"subscriptions?customer={customer}")["data"]
    assert [sub["id"] for sub in live] == [membership.stripe_subscription_id]
    assert membership.status == MembershipStatus.ACTIVE
    charges = _stripe("GET", f"charges?customer={customer}")["data"]
    assert len([c for c in charges if c["status"] == "succeeded"]) == 1  # charged once


# --- Plans --------------------------------------------------------------------------


def test_an_archived_plan_is_not_used_for_new_members(localstripe):
    archived = gateway.plan_id_for(1234, "USD", "month")
    _stripe(
        "POST",
        "plans",
        id=archived,
        amount=1234,
        currency="usd",
        interval="month",
        product={"name": "Old"},
        active=False,
    )

    plan_id = gateway.ensure_plan(amount=1234, currency="USD", interval="month", product_name="M")

    assert plan_id == f"{archived}-r2"
    assert _stripe("GET", f"plans/{plan_id}")["active"] is True
    assert gateway.ensure_plan(amount=1234, currency="USD", interval="month", product_name="M") == (
        plan_id
    )


# --- Invoices ---------------------------------------------------------------------------


def _member(client):
    client.force_login(UserFactory(email="member@example.org"))
    return join(client, amount="10", currency="USD", interval="month")


def test_an_invoice_paid_outside_stripe_is_on_the_ledger_with_no_card_fee(
    client, tasks, localstripe
):
    membership = _member(client)
    customer = membership.donor.stripe_customer_id
    invoice = _stripe(
        "POST", "invoices", customer=customer, subscription=membership.stripe_subscription_id
    )
    _stripe("POST", f"invoices/{invoice['id']}/pay", paid_out_of_band=True)  # a cheque
    claimed = payloads.invoice(
        id=invoice["id"],
        customer=customer,
        subscription=membership.stripe_subscription_id,
        amount=1,  # what the event says is not believed: Stripe's invoice is read
        currency="usd",
        payments=[],
    )

    event = deliver(client, payloads.event("invoice.paid", claimed))

    assert event.status == EventStatus.PROCESSED, event.last_error
    payment = Payment.objects.get(stripe_invoice_id=invoice["id"])
    assert (payment.amount, payment.currency, payment.fee, payment.net) == (1000, "USD", 0, 1000)
    assert payment.kind == PaymentKind.MEMBERSHIP and payment.is_paid_outside_stripe
    assert payment.stripe_charge_id is None and payment.stripe_payment_intent_id is None
    assert Receipt.objects.filter(payment=payment).exists()
    with pytest.raises(Refused):
        refunds.refund_payment(payment, amount=100, request_key="cheque")


def test_the_paid_invoice_payment_counts_then_the_default_never_a_canceled_one():
    def listed(*payments):
        return payloads.invoice(payments=list(payments))

    paid = payloads.invoice_payment(payment_intent="pi_paid", status="paid")
    paid["is_default"] = False
    default_open = payloads.invoice_payment(payment_intent="pi_default", status="open")
    other_open = payloads.invoice_payment(payment_intent="pi_other", status="open")
    other_open["is_default"] = False
    canceled = payloads.invoice_payment(payment_intent="pi_canceled", status="canceled")

    assert gateway.invoice_from_object(listed(paid, default_open, canceled)).payment_intent_id == (
        "pi_paid"
    )
    assert gateway.invoice_from_object(listed(default_open, other_open)).payment_intent_id == (
        "pi_default"
    )
    assert gateway.invoice_from_object(listed(canceled)).payment_intent_id is None


@pytest.mark.django_db
def test_an_invoice_in_the_pre_2018_shape_fails_loudly_and_writes_nothing(client, tasks):
    old = {"id": "in_old", "object": "invoice", "paid": True, "total": 500, "date": 1500000000}

    event = deliver(client, payloads.event("invoice.paid", old, api_version="2017-08-15"))

    assert event.status == EventStatus.FAILED
    assert "UnreadableObject" in event.last_error and "status" in event.last_error
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("parser", "obj"),
    [
        (gateway.invoice_from_object, {"id": "in_1", "object": "invoice", "paid": True}),
        (gateway.intent_from_object, {"id": "pi_1", "object": "payment_intent"}),
        (gateway.charge_from_object, {"id": "ch_1", "object": "charge", "paid": True}),
        (gateway.subscription_from_object, {"id": "sub_1", "object": "subscription"}),
        (gateway.dispute_from_object, {"id": "dp_1", "object": "dispute"}),
        (gateway.refund_from_object, {"id": "re_1", "object": "refund"}),
        (payment_method_from_object, {"object": "payment_method", "type": "card"}),
    ],
)
def test_a_parser_refuses_an_object_missing_the_fields_of_our_version(parser, obj):
    with pytest.raises(gateway.UnreadableObject):
        parser(obj)


# --- Events that are not ours -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"account": "acct_1Other"}, "Connect event"),
        ({"livemode": True}, "live-mode event"),
    ],
)
@pytest.mark.django_db
def test_an_event_for_another_account_or_mode_is_ignored_with_the_reason(
    client, tasks, fields, reason
):
    event = payloads.event("payment_intent.succeeded", payloads.payment_intent())
    event.update(fields)

    stored = deliver(client, event)

    assert stored.status == EventStatus.IGNORED
    assert reason in stored.ignored_reason
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_an_event_type_we_do_not_handle_is_ignored_with_the_reason(client, tasks):
    stored = deliver(client, payloads.event("customer.created", {"id": "cus_1"}))

    assert stored.status == EventStatus.IGNORED
    assert "customer.created" in stored.ignored_reason


# --- Disputes ---------------------------------------------------------------------------


def _statuses_in_library(resource: type) -> set[str]:
    """The closed list of `status` values the library's resource class declares."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(resource))
    for node in tree.body[0].body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "status":
            return {
                c.value
                for c in ast.walk(node.annotation)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    raise AssertionError(f"{resource.__name__} declares no status")


def test_every_dispute_status_of_the_pinned_version_is_known():
    assert _statuses_in_library(stripe.Dispute) == set(DisputeStatus.values)
    assert set(DISPUTE.moves) == set(DisputeStatus.values)


def test_every_subscription_status_of_the_pinned_version_is_known():
    from members.states import FROM_STRIPE

    assert _statuses_in_library(stripe.Subscription) <= set(FROM_STRIPE)


def _paid_gift(client, email: str) -> Payment:
    give(client, amount="25", currency="EUR", email=email)
    intent_id = Donation.objects.get(donor__email=email).stripe_payment_intent_id
    return ledger.record_intent_payment(gateway.retrieve_payment_intent(intent_id))


def test_a_won_appeal_ends_won_whatever_order_its_events_come_in(client, tasks, localstripe):
    payment = _paid_gift(client, "appeal@example.org")
    at = payloads.now()

    def dispute_event(status: str, offset: int) -> dict:
        dispute = payloads.dispute(
            id="dp_appeal",
            charge=payment.stripe_charge_id,
            payment_intent=payment.stripe_payment_intent_id,
            amount=2500,
            currency="eur",
            status=status,
        )
        return payloads.event("charge.dispute.updated", dispute, created=at + offset)

    for status, offset in [
        ("needs_response", 0),
        ("lost", 10),
        ("appeal_under_review", 20),
        ("won", 30),
        ("lost", 10),  # the first loss, delivered again late
    ]:
        assert deliver(client, dispute_event(status, offset)).status == EventStatus.PROCESSED

    dispute = Dispute.objects.get()
    assert dispute.status == DisputeStatus.WON
    assert not dispute.is_open and dispute.closed_at is not None


def test_an_appeal_reopens_a_lost_dispute(client, tasks, localstripe):
    payment = _paid_gift(client, "reopen@example.org")
    at = payloads.now()
    for status, offset in [("lost", 0), ("appeal_needs_response", 5)]:
        dispute = payloads.dispute(
            id="dp_reopen",
            charge=payment.stripe_charge_id,
            payment_intent=payment.stripe_payment_intent_id,
            status=status,
        )
        deliver(client, payloads.event("charge.dispute.updated", dispute, created=at + offset))

    dispute = Dispute.objects.get()
    assert dispute.status == DisputeStatus.APPEAL_NEEDS_RESPONSE
    assert dispute.is_open and dispute.closed_at is None


# --- Reconciliation ---------------------------------------------------------------------


def test_reconciliation_lists_only_the_types_we_handle(client, tasks, localstripe):
    give(client, amount="10", currency="USD", email="listed@example.org")

    inbox.reconcile_events(since=timezone.now() - timedelta(hours=1))

    stored = set(StripeEvent.objects.values_list("type", flat=True))
    assert "payment_intent.succeeded" in stored
    assert not stored & {"customer.created", "setup_intent.succeeded", "payment_method.attached"}


@pytest.mark.django_db
def test_reconciliation_refuses_a_start_further_back_than_stripe_keeps_events(localstripe):
    with pytest.raises(CommandError, match="30 days"):
        call_command(
            "reconcile_stripe", "--since", (timezone.now() - timedelta(days=40)).isoformat()
        )


# --- The webhook endpoint -------------------------------------------------------------


def test_create_stripe_webhook_registers_our_version_and_the_handled_types(
    client, tasks, localstripe, live_server, settings
):
    import io
    import re

    from payments.services.inbox import handled_types

    settings.DEBUG = True  # the live test server speaks http
    url = live_server.url + reverse("payments:stripe_webhook")
    report = io.StringIO()

    call_command("create_stripe_webhook", url, stdout=report)

    printed = report.getvalue()
    assert f"API version: {settings.STRIPE_API_VERSION}" in printed
    assert "payment_intent.succeeded" in printed and "customer.created" not in printed
    settings.STRIPE_WEBHOOK_SECRET = re.search(r"STRIPE_WEBHOOK_SECRET=(\S+)", printed)[1]
    give(client, amount="12", currency="USD", email="endpoint@example.org")
    payment = wait_until(lambda: Payment.objects.first())  # delivered by Stripe, signed
    assert payment.amount == 1200
    assert set(StripeEvent.objects.values_list("type", flat=True)) <= set(handled_types())


@pytest.mark.django_db
def test_create_stripe_webhook_refuses_a_plain_http_address_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="https"):
        call_command("create_stripe_webhook", "http://news.example.org/stripe/webhook")
