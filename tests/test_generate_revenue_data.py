"""`manage.py generate_revenue_data` on a small scale: the data it writes is consistent."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Q, Sum

from content.models import Article, Campaign
from members.models import GiftMembership, Membership, User
from members.states import GiftStatus, MembershipKind, MembershipStatus
from payments.models import Dispute, Donation, Donor, Payment, Receipt, Refund, StripeEvent
from payments.states import DonationStatus, PaymentKind, RefundStatus

pytestmark = pytest.mark.django_db

SMALL = {"payments": 300, "members": 40, "seed": 7, "force": True}


def generate(**options) -> str:
    out = StringIO()
    call_command("generate_revenue_data", **{**SMALL, **options}, stdout=out)
    return out.getvalue()


def fingerprint() -> dict[str, list]:
    """What a run wrote, without its database ids or the times (relative to now)."""
    return {
        "payments": list(
            Payment.objects.order_by("id").values_list(
                "kind",
                "amount",
                "currency",
                "fee",
                "amount_refunded",
                "donor__email",
                "article_slug",
                "campaign",
                "utm_source",
            )
        ),
        "memberships": list(
            Membership.objects.order_by("id").values_list(
                "email",
                "kind",
                "status",
                "amount",
                "currency",
                "interval",
                "origin",
                "cancel_category",
            )
        ),
        "refunds": list(Refund.objects.order_by("id").values_list("amount", "status")),
        "disputes": list(Dispute.objects.order_by("id").values_list("amount", "status")),
        "donations": list(Donation.objects.order_by("id").values_list("amount", "status")),
        "events": list(StripeEvent.objects.order_by("id").values_list("type", "status")),
    }


def test_small_run_writes_the_ledger_asked_for_with_everything_around_it():
    output = generate()

    assert "Done in" in output
    assert Payment.objects.count() == 300
    assert Membership.objects.count() == 40
    assert Receipt.objects.count() == 300
    assert StripeEvent.objects.count() == 60  # a fifth of the payments by default
    assert Article.objects.count() >= 20
    assert Campaign.objects.exists()
    kinds = set(Payment.objects.values_list("kind", flat=True))
    assert kinds == {PaymentKind.MEMBERSHIP, PaymentKind.ONE_TIME, PaymentKind.GIFT}
    assert set(Payment.objects.values_list("currency", flat=True)) <= {"USD", "EUR", "GBP", "UAH"}
    assert Payment.objects.filter(currency="USD").count() > Payment.objects.count() / 3
    assert Refund.objects.exists()
    assert Payment.objects.exclude(article_slug="").exists()


def test_the_data_keeps_the_ledgers_invariants():
    generate()

    # The database's own constraints (foreign keys on SQLite included) hold.
    connection.check_constraints()
    # Each payment's refunded amount is the sum of its succeeded refunds, never above it.
    succeeded = Sum("refunds__amount", filter=Q(refunds__status=RefundStatus.SUCCEEDED))
    for payment in Payment.objects.annotate(refunds_total=succeeded):
        assert payment.amount_refunded == (payment.refunds_total or 0), payment.pk
        assert payment.amount_refunded <= payment.amount
        assert payment.fee + payment.net == payment.amount
        assert payment.stripe_charge_id or payment.stripe_invoice_id
    assert Refund.objects.filter(currency=F("payment__currency")).count() == Refund.objects.count()
    # One receipt per payment, to the donor, numbered as the ledger numbers them.
    assert not Payment.objects.filter(receipt__isnull=True).exists()
    receipt = Receipt.objects.select_related("payment__donor").first()
    assert receipt.email == receipt.payment.donor.email
    assert receipt.number == f"{receipt.payment.paid_at:%Y}-{receipt.payment.pk:08d}"
    # Donors: one per email, lower case, a Stripe customer each.
    assert Donor.objects.filter(stripe_customer_id__startswith="cus_gen").count() == (
        Donor.objects.count()
    )
    emails = list(Donor.objects.values_list("email", flat=True))
    assert all(email == email.lower() for email in emails)
    # Gifts: each paid one-time gift and gift membership has its ledger row; unpaid none.
    paid = Donation.objects.filter(status=DonationStatus.SUCCEEDED)
    assert paid.filter(payment__isnull=True).count() == 0
    assert not Donation.objects.exclude(status=DonationStatus.SUCCEEDED).filter(
        payment__isnull=False
    )
    for payment in Payment.objects.exclude(kind=PaymentKind.MEMBERSHIP).select_related("donation"):
        assert payment.donation.kind == payment.kind
        assert payment.donation.amount + payment.donation.fee_cover == payment.amount
    claimed = GiftMembership.objects.filter(status=GiftStatus.CLAIMED)
    assert claimed.filter(membership__kind=MembershipKind.GIFT).count() == claimed.count()
    # Memberships: paid ones priced; ended ones dated; one per account; renewals paid by
    # the member's donor.
    paid_memberships = Membership.objects.filter(kind=MembershipKind.PAID)
    assert not paid_memberships.filter(Q(amount__isnull=True) | Q(currency="") | Q(interval=""))
    ended = Membership.objects.filter(
        status__in=[MembershipStatus.CANCELED, MembershipStatus.EXPIRED]
    )
    assert not ended.filter(ended_at__isnull=True)
    assert ended.filter(status=MembershipStatus.CANCELED).exists()
    assert (
        User.objects.annotate(n=Count("memberships")).filter(n__gt=1).count() == 0
    )  # one membership per generated account
    renewals = Payment.objects.filter(kind=PaymentKind.MEMBERSHIP)
    member_donors = set(paid_memberships.values_list("donor_id", flat=True))
    assert set(renewals.values_list("donor_id", flat=True)) <= member_donors


def test_the_same_seed_builds_the_same_data_and_clear_removes_it():
    generate()
    first = fingerprint()

    output = generate(clear=True)

    assert "deleted" in output
    assert fingerprint() == first
    generate(clear=True, seed=8)
    assert fingerprint() != first


def test_clear_only_leaves_rows_it_did_not_write():
    donor = Donor.objects.create(email="someone@example.org")
    generate()

    generate(clear_only=True)

    assert list(Donor.objects.all()) == [donor]
    assert not Payment.objects.exists()
    assert not Membership.objects.exists()
    assert not Article.objects.exists()


def test_receipts_can_be_left_out():
    generate(no_receipts=True, events=0)

    assert Payment.objects.count() == 300
    assert not Receipt.objects.exists()
    assert not StripeEvent.objects.exists()


def test_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        generate(force=False)
    assert not Payment.objects.exists()

    generate(force=True)
    assert Payment.objects.count() == 300


def test_runs_with_debug_on_and_refuses_to_add_to_an_earlier_run(settings):
    settings.DEBUG = True
    generate(force=False)

    with pytest.raises(CommandError, match="--clear"):
        generate(force=False)
