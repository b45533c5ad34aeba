"""Member webhooks out: a newsroom's own systems hear, as signed JSON, when a membership
starts, changes level, lapses, comes back or ends; failed deliveries are tried again with
a doubling wait until delivered once; every try is in the delivery log.

The receiver is a real HTTP server on a loopback port (tests/members/webhook_receiver.py),
so these tests are `integration` by hand.
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from members import privacy
from members.models import Membership, WebhookDelivery, WebhookEndpoint
from members.services import member_webhooks, self_service, stripe_sync
from members.services.comp import end_expired_memberships, grant_comp_membership
from members.states import AnnouncedPhase, MemberEvent, MembershipStatus
from members.tasks import sweep_member_webhooks
from payments import stripe_gateway as gateway
from tests.factories import (
    LevelAmountFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    UserFactory,
)
from tests.members.webhook_receiver import ERROR, OK, REDIRECT, SLOW, Receiver
from tests.support.processes import free_port, wait_until

pytestmark = pytest.mark.integration  # each test runs an HTTP server of its own


@pytest.fixture
def receivers():
    """Start receivers (`receivers(OK, ERROR...)`); all are stopped after the test."""
    started: list[Receiver] = []

    def start(*script: str, **options) -> Receiver:
        receiver = Receiver(*script, **options).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.MEMBER_WEBHOOK_TIMEOUT = 1  # a SLOW receiver answers after 2 s: a timeout
    settings.MEMBER_WEBHOOK_RETRY_SECONDS = 60
    settings.MEMBER_WEBHOOK_MAX_ATTEMPTS = 10


def endpoint_for(receiver: Receiver, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url=receiver.url, **fields)


def signed_by(request, secret: str, *, tolerance: int = 300) -> bool:
    """The receiver's check, written here from the README, not with our own code:
    HMAC-SHA256 of "<t>.<body>" with the secret equals v1, and t is recent."""
    fields = dict(item.split("=", 1) for item in request.headers["Patronage-Signature"].split(","))
    signed = fields["t"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, fields["v1"])


def events(received) -> list[dict]:
    return [json.loads(request.body) for request in received]


def first_tries() -> list[str]:
    """What the task queued on commit does: the first try of each new delivery."""
    return [
        member_webhooks.attempt(pk, expected_attempts=0).outcome
        for pk in WebhookDelivery.objects.filter(attempts=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


def sweep(now) -> list[str]:
    """What the beat sweep does at `now`: the next try of each delivery then due."""
    return [
        member_webhooks.attempt(pk, expected_attempts=attempts, now=now).outcome
        for pk, attempts in member_webhooks.due_deliveries(now=now)
    ]


@pytest.fixture
def levels():
    basic = LevelAmountFactory(level=MembershipLevelFactory(name="Supporter"), amount=500).level
    top = LevelAmountFactory(level=MembershipLevelFactory(name="Champion"), amount=2500).level
    return basic, top


def paid_member(level) -> Membership:
    """An active paid member, already welcomed and announced as started."""
    return PaidMembershipFactory(
        level=level,
        welcomed_at=timezone.now(),
        announced_phase=AnnouncedPhase.ACTIVE,
        announced_level=level,
        stripe_synced_at=timezone.now() - timedelta(hours=1),
    )


def stripe_says(membership: Membership, *, status: str = "active", amount: int | None = None):
    """Stripe's subscription, as an event would bring it, applied to the membership."""
    subscription = gateway.SubscriptionInfo(
        id=membership.stripe_subscription_id,
        status=status,
        customer_id=membership.donor.stripe_customer_id,
        amount=amount or membership.amount,
        currency=membership.currency,
        interval=membership.interval,
        plan_id=None,
        item_id=None,
        current_period_end=membership.current_period_end,
        cancel_at_period_end=False,
        canceled_at=timezone.now() if status == "canceled" else None,
        ended_at=timezone.now() if status == "canceled" else None,
        latest_invoice_id=None,
        created=timezone.now(),
    )
    return stripe_sync.sync_subscription(subscription, as_of=timezone.now())


# --- What is told, signed ------------------------------------------------------------------


def test_a_comp_membership_starting_and_ending_is_told_signed_to_each_active_endpoint(
    db, receivers
):
    cms, mailer, switched_off = receivers(OK), receivers(OK), receivers(OK)
    cms_endpoint, mailer_endpoint = endpoint_for(cms), endpoint_for(mailer)
    endpoint_for(switched_off, is_active=False)
    user = UserFactory(email="ana@example.org", display_name="Ana Lima")

    membership = grant_comp_membership(email="ana@example.org", note="Partner")
    assert first_tries() == ["delivered", "delivered"]
    self_service.end_membership_now(membership)
    assert first_tries() == ["delivered", "delivered"]

    assert switched_off.received == []
    for receiver, endpoint in ((cms, cms_endpoint), (mailer, mailer_endpoint)):
        assert [e["type"] for e in events(receiver.received)] == [
            "membership.started",
            "membership.ended",
        ]
        assert all(signed_by(request, endpoint.secret) for request in receiver.received)
        assert not signed_by(receiver.received[0], "whsec_someone_elses")
        started = events(receiver.received)[0]
        assert started["data"]["membership"] | {"starts_at": None} == {
            "id": str(membership.public_id),
            "email": "ana@example.org",
            "name": "Ana Lima",
            "kind": "comp",
            "status": "active",
            "has_perks": True,
            "level": None,
            "amount": None,
            "currency": "",
            "interval": "",
            "starts_at": None,
            "current_period_end": None,
            "cancel_at_period_end": False,
            "ends_at": None,
            "ended_at": None,
        }
        headers = receiver.received[0].headers
        assert headers["Content-Type"] == "application/json"
        assert headers["Patronage-Event-Id"] == started["id"]
        assert headers["Patronage-Event-Type"] == "membership.started"
    # One event, one id, for every endpoint: receivers dedupe by it.
    assert events(cms.received)[0]["id"] == events(mailer.received)[0]["id"]
    assert events(cms.received)[0]["id"] != events(cms.received)[1]["id"]
    assert user.pk == membership.user_id


def test_the_signature_checks_out_with_the_shared_code_and_fails_when_anything_changes(db):
    body = member_webhooks.encode({"id": "e1", "type": "membership.started"})
    now = int(time.time())
    header = member_webhooks.signature_header("whsec_abc", now, body)

    assert member_webhooks.verify(header, body, "whsec_abc")
    assert not member_webhooks.verify(header, body + b" ", "whsec_abc")
    assert not member_webhooks.verify(header, body, "whsec_abd")
    stale = member_webhooks.signature_header("whsec_abc", now - 301, body)
    assert not member_webhooks.verify(stale, body, "whsec_abc")
    assert not member_webhooks.verify("v1=deadbeef", body, "whsec_abc")


def test_a_paid_member_changing_level_lapsing_coming_back_and_ending_is_told_once_each(
    db, receivers, levels
):
    basic, top = levels
    cms = receivers(OK)
    endpoint_for(cms)
    membership = paid_member(basic)

    stripe_says(membership, amount=2500)  # Supporter -> Champion
    stripe_says(membership, amount=2500)  # the same snapshot again: nothing new
    stripe_says(membership, status="past_due", amount=2500)  # perks stay: nothing told
    stripe_says(membership, status="unpaid", amount=2500)  # Stripe stopped retrying
    stripe_says(membership, status="active", amount=2500)  # paid after all
    stripe_says(membership, status="canceled", amount=2500)
    stripe_says(membership, status="canceled", amount=2500)
    first_tries()

    told = events(cms.received)
    assert [e["type"] for e in told] == [
        MemberEvent.LEVEL_CHANGED,
        MemberEvent.LAPSED,
        MemberEvent.REACTIVATED,
        MemberEvent.ENDED,
    ]
    changed = told[0]["data"]
    assert changed["membership"]["level"] == {"slug": top.slug, "name": "Champion"}
    assert changed["previous"] == {"level": {"slug": basic.slug, "name": "Supporter"}}
    assert told[1]["data"]["membership"]["has_perks"] is False
    assert told[3]["data"]["membership"]["status"] == MembershipStatus.CANCELED
    assert len({e["id"] for e in told}) == 4


def test_a_gift_membership_ending_on_its_date_is_told(db, receivers):
    cms = receivers(OK)
    endpoint_for(cms)
    membership = grant_comp_membership(
        email="friend@example.org", ends_at=timezone.now() + timedelta(days=30)
    )
    Membership.objects.filter(pk=membership.pk).update(ends_at=timezone.now())

    assert end_expired_memberships() == 1
    first_tries()

    assert [e["type"] for e in events(cms.received)] == ["membership.started", "membership.ended"]


def test_nothing_is_sent_inside_the_transaction_and_a_rolled_back_change_tells_nothing(
    db, receivers, django_capture_on_commit_callbacks
):
    cms = receivers(OK)
    endpoint_for(cms)

    with django_capture_on_commit_callbacks() as queued:
        grant_comp_membership(email="ana@example.org")
    assert cms.received == []  # the POST waits for the commit (the task)
    assert [c.__qualname__ for c in queued if "_record_event" in c.__qualname__] != []

    with pytest.raises(RuntimeError), transaction.atomic():
        grant_comp_membership(email="ben@example.org")
        raise RuntimeError("the money path failed")
    assert WebhookDelivery.objects.count() == 1


def test_no_endpoint_no_delivery_and_the_membership_still_changes(db):
    membership = grant_comp_membership(email="ana@example.org")

    assert WebhookDelivery.objects.count() == 0
    membership.refresh_from_db()
    assert membership.announced_phase == AnnouncedPhase.ACTIVE


# --- Retries, once delivered -----------------------------------------------------------


def test_a_delivery_answered_500_then_timing_out_is_retried_with_backoff_and_delivered_once(
    db, receivers
):
    cms = receivers(ERROR, SLOW, OK, slow_seconds=2)
    endpoint = endpoint_for(cms)
    grant_comp_membership(email="ana@example.org")
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()

    assert first_tries() == ["failed"]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        1,
        500,
        "HTTP 500.",
    )
    assert delivery.delivered_at is None
    assert sweep(start + timedelta(seconds=30)) == []  # not due before its backoff (60 s)

    assert sweep(start + timedelta(seconds=61)) == ["failed"]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (2, None)
    assert delivery.last_error == "No answer within 1 s."
    assert sweep(start + timedelta(seconds=61 + 90)) == []  # the wait doubled: 120 s

    assert sweep(start + timedelta(seconds=61 + 121)) == ["delivered"]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (3, 200, "")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None

    assert sweep(start + timedelta(days=2)) == []  # delivered: never sent again
    assert member_webhooks.attempt(delivery.pk, expected_attempts=3).outcome == "skipped"
    wait_until(lambda: len(cms.received) == 3)
    time.sleep(0.2)
    assert len(cms.received) == 3
    # The same body every time (so the same event id), each try signed anew.
    assert len({request.body for request in cms.received}) == 1
    assert all(signed_by(request, endpoint.secret) for request in cms.received)


def test_a_try_already_taken_is_not_sent_twice(db, receivers):
    cms = receivers(ERROR)
    endpoint_for(cms)
    grant_comp_membership(email="ana@example.org")
    delivery = WebhookDelivery.objects.get()

    assert member_webhooks.attempt(delivery.pk, expected_attempts=0).outcome == "failed"
    # The task's own retry and the beat sweep both hold "1 try so far": one of them sends.
    later = timezone.now() + timedelta(minutes=5)
    outcomes = [
        member_webhooks.attempt(delivery.pk, expected_attempts=1, now=later).outcome,
        member_webhooks.attempt(delivery.pk, expected_attempts=1, now=later).outcome,
    ]

    assert outcomes == ["failed", "skipped"]
    assert len(cms.received) == 2


def test_a_delivery_is_given_up_after_the_last_attempt(db, receivers, settings):
    settings.MEMBER_WEBHOOK_MAX_ATTEMPTS = 3
    cms = receivers(ERROR)
    endpoint_for(cms)
    grant_comp_membership(email="ana@example.org")
    start = timezone.now()

    assert first_tries() == ["failed"]
    assert sweep(start + timedelta(minutes=2)) == ["failed"]
    assert sweep(start + timedelta(minutes=10)) == ["gave_up"]
    assert sweep(start + timedelta(days=1)) == []

    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 3 and delivery.gave_up_at is not None
    assert delivery.delivered_at is None and len(cms.received) == 3


def test_a_redirect_is_not_followed(db, receivers):
    cms = receivers(REDIRECT)
    endpoint_for(cms)
    grant_comp_membership(email="ana@example.org")

    assert first_tries() == ["failed"]

    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 302
    assert delivery.last_error == "HTTP 302: redirects are not followed."
    assert cms.paths == ["/hooks/patronage"]  # /elsewhere never asked


def test_an_endpoint_nobody_listens_on_fails_the_delivery_not_the_membership(db):
    WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{free_port()}/hooks")

    membership = grant_comp_membership(email="ana@example.org")
    assert first_tries() == ["failed"]

    assert membership.has_perks
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error == "Could not connect: ConnectionError."
    assert delivery.next_attempt_at > timezone.now()


def test_the_task_and_the_sweep_deliver_after_a_failure(
    transactional_db, tasks, receivers, settings
):
    """The whole path: the change commits, the task tries, a 500 is tried again (by the
    task's own retry on a worker, by the beat sweep otherwise) and delivered once."""
    settings.MEMBER_WEBHOOK_RETRY_SECONDS = 0.5
    cms = receivers(ERROR, OK)
    endpoint_for(cms)

    grant_comp_membership(email="ana@example.org")

    def delivered() -> bool:
        sweep_member_webhooks.delay()
        return WebhookDelivery.objects.filter(delivered_at__isnull=False).exists()

    wait_until(delivered, timeout=20, interval=0.3)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    assert len(cms.received) == 2
    assert cms.received[0].body == cms.received[1].body


# --- Only http(s), and the admin -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://cms.example.org/hooks",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http://",
        "cms.example.org/hooks",
        "http://cms.example.org/hooks\nX-Injected: 1",
    ],
)
def test_an_endpoint_that_is_not_http_is_refused_in_admin_and_by_the_database(staff_client, url):
    response = staff_client.post(
        reverse("admin:members_webhookendpoint_add"), {"url": url, "is_active": "on"}
    )

    assert response.status_code == 200  # the form again, with its error
    assert "Enter an http:// or https:// address." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    if not url.startswith("http"):
        with pytest.raises(IntegrityError), transaction.atomic():
            WebhookEndpoint.objects.create(url=url)


def test_a_delivery_to_an_address_that_is_not_http_is_given_up_without_sending(db, receivers):
    cms = receivers(OK)
    endpoint = endpoint_for(cms)
    grant_comp_membership(email="ana@example.org")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="http:///no-host")

    assert first_tries() == ["gave_up"]

    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error == "Not an http(s) address: nothing was sent."
    assert cms.received == []


def test_staff_see_the_secret_once_when_adding_an_endpoint_and_the_delivery_log(
    staff_client, receivers
):
    cms = receivers(ERROR)
    url = cms.url
    response = staff_client.post(
        reverse("admin:members_webhookendpoint_add"),
        {"url": url, "description": "Our CMS", "is_active": "on"},
    )
    endpoint = WebhookEndpoint.objects.get()

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    change = staff_client.get(reverse("admin:members_webhookendpoint_change", args=[endpoint.pk]))
    listing = staff_client.get(reverse("admin:members_webhookendpoint_changelist"))
    assert endpoint.secret not in change.content.decode()
    assert endpoint.secret not in listing.content.decode()
    assert endpoint.secret_hint in listing.content.decode()

    grant_comp_membership(email="ana@example.org")
    first_tries()
    log = staff_client.get(reverse("admin:members_webhookdelivery_changelist"))
    delivery = WebhookDelivery.objects.get()
    page = staff_client.get(reverse("admin:members_webhookdelivery_change", args=[delivery.pk]))

    assert "HTTP 500." in log.content.decode()
    assert str(delivery.event_id) in page.content.decode()


def test_rolling_the_secret_shows_the_new_one_once_and_signs_with_it(staff_client, receivers):
    cms = receivers(OK)
    endpoint = endpoint_for(cms)
    old = endpoint.secret

    response = staff_client.post(
        reverse("admin:members_webhookendpoint_changelist"),
        {"action": "roll_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    grant_comp_membership(email="ana@example.org")
    first_tries()

    assert endpoint.secret != old and endpoint.secret in response.content.decode()
    assert signed_by(cms.received[0], endpoint.secret)
    assert not signed_by(cms.received[0], old)


def test_erasing_a_member_takes_their_name_and_email_out_of_the_delivery_log(db, receivers):
    endpoint_for(receivers(OK))
    user = UserFactory(email="ana@example.org", display_name="Ana Lima")
    grant_comp_membership(email="ana@example.org")

    privacy.erase_person(privacy.person_of_user(user))

    bodies = json.dumps([d.payload for d in WebhookDelivery.objects.all()])
    assert WebhookDelivery.objects.count() == 2  # started, and ended by the erasure
    assert "ana@example.org" not in bodies and "Ana Lima" not in bodies


def test_old_finished_deliveries_leave_the_log(db, receivers):
    endpoint_for(receivers(OK))
    grant_comp_membership(email="ana@example.org")
    first_tries()

    assert member_webhooks.delete_old_deliveries(days=90) == 0
    later = timezone.now() + timedelta(days=91)
    assert member_webhooks.delete_old_deliveries(days=90, now=later) == 1
