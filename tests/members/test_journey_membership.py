"""Journeys 2 to 4: join, each renewal, a renewal that fails and recovers or ends.

localstripe delivers its signed webhooks to a live server; the worker keeps
the membership, the ledger and the emails in step.
"""

from django.urls import reverse

from members.selectors import has_member_perks
from members.states import MembershipStatus
from payments.models import Payment
from payments.states import PaymentKind
from tests.factories import ArticleDocumentFactory, ArticleFactory, UserFactory
from tests.members.memberships import (
    join,
    refreshed,
    renew,
    stripe_gives_up,
    switch_default_card,
)
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.stripejs import (
    ANOTHER_CARD_OK,
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    confirm_card_setup,
)
from tests.support.webhooks import post_event


def declined_renewal(client, membership) -> None:
    """The renewal's charge is declined and Stripe says so (localstripe charges but never
    tells: the event is delivered here, in the current API shape, about the real invoice)."""
    invoice = renew(membership)
    assert invoice["status"] == "open"
    failed = payloads.invoice(
        id=invoice["id"],
        customer=invoice["customer"],
        subscription=membership.stripe_subscription_id,
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        status="open",
    )
    assert post_event(client, payloads.event("invoice.payment_failed", failed)).status_code == 200


def emails_to(mailoutbox, address: str, word: str) -> list:
    return [m for m in mailoutbox if address in m.to and word in m.subject.lower()]


def test_signed_in_reader_joins_monthly_with_3d_secure_gets_welcome_receipt_and_perks(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="joiner@example.org")
    client.force_login(user)
    assert not has_member_perks(user)
    article = ArticleFactory(slug="front-line-diary")
    ArticleDocumentFactory(article=article, title="The full interview")
    assert client.get("/api/support-block/front-line-diary").json()["variant"] == "ask"

    membership = join(client, amount="10", currency="USD", interval="month", card=CARD_3DS)

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    payment = wait_until(lambda: Payment.objects.filter(kind=PaymentKind.MEMBERSHIP).first())
    assert (payment.amount, payment.currency, payment.donor.user) == (1000, "USD", user)
    assert (membership.amount, membership.interval) == (1000, "month")
    assert membership.current_period_end is not None
    assert has_member_perks(user)
    wait_until(lambda: emails_to(mailoutbox, "joiner@example.org", "welcome"))
    wait_until(lambda: emails_to(mailoutbox, "joiner@example.org", "receipt"))
    page = client.get(reverse("members:join_welcome", args=[membership.public_id]))
    assert "$10.00" in page.content.decode()
    # From then on the article API says "member": no ask, the member extras shown.
    block = client.get("/api/support-block/front-line-diary").json()
    assert (block["variant"], block["show_asks"]) == ("member", True)
    assert [d["title"] for d in block["extras"]["documents"]] == ["The full interview"]


def test_each_renewal_gives_one_ledger_row_and_one_receipt(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="renewer@example.org")
    client.force_login(user)
    membership = join(client, amount="5", currency="EUR")
    wait_until(lambda: Payment.objects.count() == 1)

    renew(membership)
    renew(membership)

    wait_until(lambda: Payment.objects.count() == 3)
    wait_until(lambda: len(emails_to(mailoutbox, "renewer@example.org", "receipt")) == 3)
    assert set(Payment.objects.values_list("kind", "amount")) == {(PaymentKind.MEMBERSHIP, 500)}
    assert Payment.objects.values("stripe_invoice_id").distinct().count() == 3
    assert len(emails_to(mailoutbox, "renewer@example.org", "welcome")) == 1


def test_a_failed_renewal_keeps_perks_tells_the_member_and_a_new_card_recovers_it(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="pastdue@example.org")
    client.force_login(user)
    membership = join(client)
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)

    declined_renewal(client, membership)

    membership = refreshed(membership, status=MembershipStatus.PAST_DUE)
    assert has_member_perks(user)
    (notice,) = wait_until(lambda: emails_to(mailoutbox, "pastdue@example.org", "did not go"))
    assert reverse("members:card") in notice.body

    started = client.post(reverse("members:card_start")).json()
    confirm_card_setup(started["setupClientSecret"], ANOTHER_CARD_OK)
    finished = client.post(reverse("members:card_finish"))

    assert finished.status_code == 200, finished.content
    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    wait_until(lambda: Payment.objects.count() == 2)
    # The member is told, and their account page shows, which card renewals go to now
    assert membership.card == "Visa ending 5556"
    account = client.get(reverse("members:account")).content.decode()
    assert "Your card is updated: renewals now go to your Visa ending 5556." in account
    assert "<dt>Card</dt><dd>Visa ending 5556</dd>" in account


def test_a_card_put_on_the_subscription_outside_this_site_is_the_one_the_member_sees(
    client, tasks, stripe_webhooks
):
    """Staff change the card in Stripe's dashboard: the subscription's event sends us to
    read which card it is now, and the account page says it."""
    client.force_login(UserFactory(email="switched@example.org"))
    membership = refreshed(join(client), status=MembershipStatus.ACTIVE)
    assert membership.card == "Visa ending 4242"

    subscription = switch_default_card(membership, ANOTHER_CARD_OK)
    updated = payloads.event("customer.subscription.updated", subscription)
    assert post_event(client, updated).status_code == 200

    membership = refreshed(membership, card_last4="5556")
    assert membership.card == "Visa ending 5556"
    assert (
        "<dt>Card</dt><dd>Visa ending 5556</dd>"
        in client.get(reverse("members:account")).content.decode()
    )


def test_when_stripe_gives_up_on_a_failed_renewal_the_membership_ends_and_perks_stop(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="lapsed@example.org")
    client.force_login(user)
    membership = join(client)
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)
    declined_renewal(client, membership)
    refreshed(membership, status=MembershipStatus.PAST_DUE)

    stripe_gives_up(membership)

    membership = refreshed(membership, status=MembershipStatus.CANCELED)
    assert membership.ended_at is not None
    assert not has_member_perks(user)
    wait_until(lambda: emails_to(mailoutbox, "lapsed@example.org", "ended"))
