"""Journey 5: a member changes their amount and interval, cancels at period end and
resumes; every member sees their own receipts and yearly statements, and only theirs.

Memberships are real ones, made through the join page against localstripe.
"""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from members.models import LevelAmount, MembershipLevel
from members.selectors import has_member_perks
from members.services.comp import grant_comp_membership
from members.states import MembershipStatus
from payments.models import Donor, Payment
from payments.services import ledger, refunds
from payments.states import PaymentKind
from tests.factories import UserFactory
from tests.members.memberships import _stripe, join, refreshed, renew
from tests.payments.donations import give, recorded_payment
from tests.support.processes import wait_until

CHANGE = reverse("members:membership_change")
CANCEL = reverse("members:membership_cancel")
RESUME = reverse("members:membership_resume")


def subscription_in_stripe(membership) -> dict:
    return _stripe("GET", f"subscriptions/{membership.stripe_subscription_id}")


def stripe_price(subscription: dict) -> tuple[int, str]:
    plan = subscription["items"]["data"][0]["plan"]
    return plan["amount"], plan["interval"]


def page(client, url: str = reverse("members:account")) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def ledger_row(user, *, amount: int, currency: str, paid_at: datetime, refunded: int = 0):
    """A ledger row with its receipt, as the Stripe handlers write them."""
    donor, _ = Donor.objects.get_or_create(email=user.email, defaults={"user": user})
    n = Payment.objects.count() + 1
    payment = Payment.objects.create(
        donor=donor,
        kind=PaymentKind.ONE_TIME,
        amount=amount,
        amount_refunded=refunded,
        currency=currency,
        stripe_payment_intent_id=f"pi_ledger_{n}",
        stripe_charge_id=f"ch_ledger_{n}",
        paid_at=paid_at,
    )
    ledger.create_receipt(payment)
    return payment


# --- Change, cancel, resume ------------------------------------------------------------


def test_member_raises_their_amount_and_the_next_renewal_charges_the_new_amount(
    client, tasks, stripe_webhooks, settings
):
    # Without proration (MEMBERSHIP_PRORATION=none): the new amount from the next renewal.
    # With it, the difference for this month comes on top (test_membership_change_prices.py).
    settings.MEMBERSHIP_PRORATION = "none"
    user = UserFactory(email="raiser@example.org")
    client.force_login(user)
    membership = join(client, amount="10", currency="USD", interval="month")
    wait_until(lambda: Payment.objects.filter(amount=1000).exists())
    assert 'value="10.00"' in page(client, CHANGE)

    response = client.post(CHANGE, {"amount": "25", "interval": "month"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("members:account")
    assert "$25.00" in response.content.decode()  # the success message and the membership
    membership.refresh_from_db()
    assert (membership.amount, membership.currency, membership.interval) == (2500, "USD", "month")
    assert membership.status == MembershipStatus.ACTIVE
    assert stripe_price(subscription_in_stripe(membership)) == (2500, "month")
    assert Payment.objects.count() == 1  # nothing charged today

    renew(membership)

    renewal = wait_until(lambda: Payment.objects.filter(amount=2500).first())
    assert (renewal.kind, renewal.currency, renewal.donor.user) == (
        PaymentKind.MEMBERSHIP,
        "USD",
        user,
    )
    account = page(client)
    assert reverse("members:receipt", args=[renewal.receipt.number]) in account


def test_member_switches_from_monthly_to_yearly(client, tasks, stripe_webhooks):
    user = UserFactory(email="yearly@example.org")
    client.force_login(user)
    membership = join(client, amount="10", currency="EUR", interval="month")
    wait_until(lambda: Payment.objects.count() == 1)
    monthly_end = membership.current_period_end

    response = client.post(CHANGE, {"amount": "100", "interval": "year"})

    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.amount, membership.currency, membership.interval) == (10000, "EUR", "year")
    assert stripe_price(subscription_in_stripe(membership)) == (10000, "year")
    # A new interval starts a new (yearly) period today, invoiced at once, as Stripe does.
    assert (membership.current_period_end - monthly_end).days >= 330
    wait_until(lambda: Payment.objects.count() == 2)
    account = page(client)
    assert "€100.00" in account
    assert "yearly" in account

    renew(membership)

    renewal = wait_until(lambda: Payment.objects.filter(amount=10000).first())
    assert (renewal.currency, renewal.kind) == ("EUR", PaymentKind.MEMBERSHIP)


def test_an_amount_below_the_minimum_is_a_form_error_and_changes_nothing(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD")

    response = client.post(CHANGE, {"amount": "0.10", "interval": "month"})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    membership.refresh_from_db()
    assert membership.amount == 1000
    assert stripe_price(subscription_in_stripe(membership)) == (1000, "month")


def test_stripe_down_while_changing_says_so_and_changes_nothing(client, tasks, stripe_proxy):
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD")
    stripe_proxy.fail_next(20, path=f"/v1/subscriptions/{membership.stripe_subscription_id}")

    response = client.post(CHANGE, {"amount": "30", "interval": "month"})

    stripe_proxy.recover()
    assert response.status_code == 200
    assert "Your membership is unchanged." in response.content.decode()
    membership.refresh_from_db()
    assert (membership.amount, membership.interval) == (1000, "month")
    assert stripe_price(subscription_in_stripe(membership)) == (1000, "month")


def test_member_cancels_at_period_end_keeps_perks_then_resumes(client, tasks, stripe_webhooks):
    user = UserFactory(email="wavering@example.org")
    client.force_login(user)
    membership = join(client)
    assert "Cancel your membership" in page(client)

    response = client.post(
        CANCEL, {"category": "too_expensive", "reason": "Money is tight this year."}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.cancel_at_period_end is True
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.cancel_reason == "Money is tight this year."
    assert membership.cancel_category == "too_expensive"
    assert subscription_in_stripe(membership)["cancel_at_period_end"] is True
    assert has_member_perks(user)
    account = page(client)
    assert "Ends on" in account
    assert f"{membership.current_period_end:%-d %B %Y}" in account
    assert "Keep my membership" in account

    client.post(RESUME)

    membership = refreshed(membership, cancel_at_period_end=False)
    assert membership.status == MembershipStatus.ACTIVE
    assert (membership.cancel_reason, membership.cancel_category) == ("", "")
    assert subscription_in_stripe(membership)["cancel_at_period_end"] is False
    account = page(client)
    assert "Next payment" in account
    assert "Ends on" not in account


def test_a_cancel_reason_with_markup_is_refused_and_never_rendered_raw(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    membership = join(client)

    response = client.post(CANCEL, {"reason": "<script>alert(1)</script>"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "errorlist" in body
    membership.refresh_from_db()
    assert membership.cancel_at_period_end is False
    assert membership.cancel_reason == ""
    assert "<script>alert(1)" not in page(client)


def test_another_account_can_never_change_cancel_or_resume_someone_elses_membership(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory(email="owner@example.org"))
    membership = join(client, amount="10", currency="USD")
    client.force_login(UserFactory(email="intruder@example.org"))

    assert client.get(CHANGE).status_code == 404
    assert client.post(CHANGE, {"amount": "1", "interval": "year"}).status_code == 404
    assert client.post(CANCEL, {"reason": ""}).status_code == 404
    assert client.post(RESUME).status_code == 404

    membership.refresh_from_db()
    assert (membership.amount, membership.interval) == (1000, "month")
    assert membership.cancel_at_period_end is False
    subscription = subscription_in_stripe(membership)
    assert stripe_price(subscription) == (1000, "month")
    assert subscription["cancel_at_period_end"] is False
    assert "Become a member" in page(client)


def test_resume_is_post_only_and_signed_out_readers_are_sent_to_sign_in(client, db):
    user = UserFactory()
    for url in (CHANGE, CANCEL, RESUME):
        response = client.post(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    for url in (
        reverse("members:receipt", args=["2026-00000001"]),
        reverse("members:statement", args=[2026]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    client.force_login(user)
    assert client.get(RESUME).status_code == 405


def test_a_non_member_is_invited_to_join(client, db):
    client.force_login(UserFactory())

    account = page(client)

    assert "Become a member" in account
    assert reverse("members:join") in account
    assert client.get(CHANGE).status_code == 404


def test_a_complimentary_member_sees_when_their_membership_ends(client, db):
    user = UserFactory(email="comped@example.org")
    ends_at = datetime(2031, 5, 20, 12, tzinfo=UTC)
    grant_comp_membership(email=user.email, ends_at=ends_at, note="Partner newsroom")
    client.force_login(user)

    account = page(client)

    assert "Complimentary" in account
    assert "20 May 2031" in account
    assert "Become a member" not in account
    assert client.get(CHANGE).status_code == 404  # nothing billed to change


# --- Receipts and statements -----------------------------------------------------------


def test_member_opens_their_receipt_but_not_another_members(client, db, settings):
    settings.ORGANIZATION_ADDRESS = "9 Press Row, Springfield"
    settings.ORGANIZATION_TAX_NOTE = "No goods or services were provided."
    mine_user, other_user = UserFactory(), UserFactory()
    paid_at = datetime(2025, 3, 14, 12, tzinfo=UTC)
    mine = ledger_row(mine_user, amount=4200, currency="GBP", paid_at=paid_at)
    theirs = ledger_row(other_user, amount=9900, currency="USD", paid_at=paid_at)
    client.force_login(mine_user)

    receipt = page(client, reverse("members:receipt", args=[mine.receipt.number]))

    assert mine.receipt.number in receipt
    assert "£42.00" in receipt
    assert "14 March 2025" in receipt
    assert "One-time" in receipt
    assert "9 Press Row, Springfield" in receipt
    assert "No goods or services were provided." in receipt
    assert "data-print" in receipt
    for number in (theirs.receipt.number, "2025-99999999", "nonsense"):
        assert client.get(reverse("members:receipt", args=[number])).status_code == 404


def test_yearly_statement_totals_each_currency_net_of_refunds(client, db, settings):
    settings.ORGANIZATION_TAX_NOTE = "Keep this statement for your tax return."
    user, other = UserFactory(), UserFactory()
    in_2025 = datetime(2025, 6, 1, 9, tzinfo=UTC)
    ledger_row(user, amount=1000, currency="USD", paid_at=in_2025)
    ledger_row(user, amount=2500, currency="USD", paid_at=in_2025, refunded=500)
    ledger_row(user, amount=2000, currency="EUR", paid_at=in_2025, refunded=2000)
    ledger_row(user, amount=700, currency="USD", paid_at=datetime(2024, 12, 31, tzinfo=UTC))
    ledger_row(other, amount=123456, currency="USD", paid_at=in_2025)
    client.force_login(user)

    statement = page(client, reverse("members:statement", args=[2025]))

    assert 'data-currency="USD"' in statement
    usd = statement.split('data-currency="USD"')[1].split("</tr>")[0]
    assert all(money in usd for money in ("$35.00", "$5.00", "$30.00"))
    eur = statement.split('data-currency="EUR"')[1].split("</tr>")[0]
    assert eur.count("€20.00") == 2 and "€0.00" in eur
    assert "$7.00" not in statement  # 2024's gift is on 2024's statement
    assert "$1,234.56" not in statement
    assert "Keep this statement for your tax return." in statement
    assert "data-print" in statement
    account = page(client)
    assert reverse("members:statement", args=[2025]) in account
    assert reverse("members:statement", args=[2024]) in account
    assert "$7.00" in page(client, reverse("members:statement", args=[2024]))
    assert client.get(reverse("members:statement", args=[2023])).status_code == 404
    assert client.get(reverse("members:statement", args=[99999])).status_code == 404

    client.force_login(UserFactory())
    assert client.get(reverse("members:statement", args=[2025])).status_code == 404


def test_statement_of_real_payments_after_a_partial_refund(client, tasks, stripe_webhooks):
    user = UserFactory(email="statement@example.org")
    client.force_login(user)
    join(client, amount="10", currency="USD")
    give(client, amount="25", currency="EUR")
    membership_payment = recorded_payment(kind=PaymentKind.MEMBERSHIP)
    recorded_payment(kind=PaymentKind.ONE_TIME)

    refunds.refund_payment(membership_payment, amount=400, request_key="statement-1")

    wait_until(lambda: Payment.objects.get(pk=membership_payment.pk).amount_refunded == 400)
    year = membership_payment.paid_at.year
    statement = page(client, reverse("members:statement", args=[year]))
    usd = statement.split('data-currency="USD"')[1].split("</tr>")[0]
    assert "$10.00" in usd and "$4.00" in usd and "$6.00" in usd
    eur = statement.split('data-currency="EUR"')[1].split("</tr>")[0]
    assert eur.count("€25.00") == 2  # given and net
    for payment in Payment.objects.all():
        assert payment.receipt.number in statement
        assert reverse("members:receipt", args=[payment.receipt.number]) in page(client)


@pytest.mark.parametrize("path", ["receipt", "statement"])
def test_someone_elses_real_receipt_and_year_are_not_found(client, tasks, stripe_webhooks, path):
    client.force_login(UserFactory(email="giver@example.org"))
    join(client)
    payment = recorded_payment(kind=PaymentKind.MEMBERSHIP)
    client.force_login(UserFactory(email="snoop@example.org"))

    arg = payment.receipt.number if path == "receipt" else payment.paid_at.year
    response = client.get(reverse(f"members:{path}", args=[arg]))

    assert response.status_code == 404


def test_changing_back_and_forth_keeps_stripe_and_the_membership_in_step(
    client, tasks, stripe_proxy
):
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD")

    for amount in ("25", "10", "25"):
        assert client.post(CHANGE, {"amount": amount, "interval": "month"}).status_code == 302

    membership.refresh_from_db()
    assert membership.amount == 2500
    assert stripe_price(subscription_in_stripe(membership)) == (2500, "month")


def test_a_member_moves_up_a_level_by_choosing_its_amount(client, tasks, stripe_webhooks):
    insider = MembershipLevel.objects.create(name="Insider", slug="insider", position=1)
    champion = MembershipLevel.objects.create(name="Champion", slug="champion", position=2)
    LevelAmount.objects.create(level=insider, currency="USD", interval="month", amount=1000)
    LevelAmount.objects.create(level=champion, currency="USD", interval="month", amount=2500)
    client.force_login(UserFactory())
    membership = join(client, amount="10", currency="USD", interval="month")
    assert membership.level == insider
    change_page = page(client, CHANGE)
    assert "Champion" in change_page and "$25.00 / month" in change_page

    client.post(CHANGE, {"amount": "25", "interval": "month"})

    membership.refresh_from_db()
    assert membership.level == champion
    assert "Champion" in page(client)


def test_an_unknown_cancel_reason_is_refused_and_the_membership_renews(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    membership = join(client)

    response = client.post(CANCEL, {"category": "hates-us"})

    assert response.status_code == 200
    assert "category" in response.context["form"].errors
    membership.refresh_from_db()
    assert (membership.cancel_at_period_end, membership.cancel_category) == (False, "")
