"""The ledger's invariants live in the database: writes that break them are refused there.

Each refused write runs in its own savepoint (`transaction.atomic()` inside
`pytest.raises`), so the test can go on using the connection afterwards.
"""

import factory
import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments.models import Donation, Donor, Payment, Receipt, Refund, SuggestedAmount
from payments.states import PaymentKind, RefundStatus

pytestmark = pytest.mark.django_db


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    email = factory.Sequence(lambda n: f"donor{n}@example.org")


class DonationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donation

    donor = factory.SubFactory(DonorFactory)
    amount = 2500
    currency = "EUR"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    donor = factory.SubFactory(DonorFactory)
    kind = PaymentKind.ONE_TIME
    amount = 2500
    currency = "EUR"
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_test{n:06d}")
    stripe_charge_id = factory.Sequence(lambda n: f"ch_test{n:06d}")
    paid_at = factory.LazyFunction(timezone.now)


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    stripe_refund_id = factory.Sequence(lambda n: f"re_test{n:06d}")
    amount = 500
    currency = "EUR"
    status = RefundStatus.SUCCEEDED


# --- Payments (the ledger) --------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1])
def test_a_payment_of_nothing_or_less_is_refused(amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(amount=amount)

    assert not Payment.objects.exists()


def test_a_refunded_total_above_the_charge_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(amount=1000, amount_refunded=1001)


def test_a_refunded_total_cannot_be_raised_above_the_charge_by_a_bulk_update():
    payment = PaymentFactory(amount=1000)

    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=F("amount") + 1)

    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_a_payment_refunded_in_full_is_allowed():
    payment = PaymentFactory(amount=1000, amount_refunded=1000)

    assert payment.refundable == 0


@pytest.mark.parametrize("field", ["stripe_payment_intent_id", "stripe_charge_id"])
def test_a_payment_without_its_stripe_ids_is_refused(field):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(**{field: ""})


@pytest.mark.parametrize(
    "field", ["stripe_payment_intent_id", "stripe_charge_id", "stripe_invoice_id"]
)
def test_one_stripe_charge_is_one_ledger_row(field):
    PaymentFactory(**{field: "ch_or_pi_or_in_same"})

    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(**{field: "ch_or_pi_or_in_same"})

    assert Payment.objects.count() == 1


def test_many_payments_may_have_no_invoice():
    PaymentFactory(stripe_invoice_id=None)
    PaymentFactory(stripe_invoice_id=None)

    assert Payment.objects.filter(stripe_invoice_id__isnull=True).count() == 2


def test_one_donation_has_at_most_one_ledger_row():
    donation = DonationFactory()
    PaymentFactory(donation=donation, donor=donation.donor)

    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(donation=donation, donor=donation.donor)


def test_one_payment_has_at_most_one_receipt_and_numbers_are_unique():
    first, second = PaymentFactory(), PaymentFactory()
    Receipt.objects.create(payment=first, number="2025-00000001", email="donor@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.create(payment=first, number="2025-00000002", email="donor@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.create(payment=second, number="2025-00000001", email="donor@example.org")

    assert Receipt.objects.count() == 1


# --- Donors -------------------------------------------------------------------------------


def test_saving_a_donor_stores_the_email_trimmed_and_lower_cased():
    donor = Donor.objects.create(email="  Olena.K@Example.ORG ")

    donor.refresh_from_db()
    assert donor.email == "olena.k@example.org"


def test_an_upper_case_email_written_past_save_is_refused_by_update():
    donor = DonorFactory(email="reader@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        Donor.objects.filter(pk=donor.pk).update(email="Reader@Example.org")

    donor.refresh_from_db()
    assert donor.email == "reader@example.org"


def test_an_upper_case_email_written_past_save_is_refused_by_bulk_create():
    with pytest.raises(IntegrityError), transaction.atomic():
        Donor.objects.bulk_create([Donor(email="Reader@Example.org")])

    assert not Donor.objects.exists()


@pytest.mark.parametrize(
    "again", ["reader@example.org", "READER@example.org", " Reader@Example.org"]
)
def test_one_email_is_one_donor_whatever_its_casing(again):
    DonorFactory(email="reader@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        Donor.objects.create(email=again)

    assert Donor.objects.count() == 1


def test_a_blank_or_shared_stripe_customer_is_refused():
    DonorFactory(stripe_customer_id="cus_shared")

    with pytest.raises(IntegrityError), transaction.atomic():
        DonorFactory(stripe_customer_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        DonorFactory(stripe_customer_id="cus_shared")


def test_many_donors_may_have_no_stripe_customer_yet():
    DonorFactory(stripe_customer_id=None)
    DonorFactory(stripe_customer_id=None)

    assert Donor.objects.filter(stripe_customer_id__isnull=True).count() == 2


# --- Refunds, donations, suggested amounts ------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_of_nothing_or_less_is_refused(amount):
    payment = PaymentFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        RefundFactory(payment=payment, amount=amount)

    assert not Refund.objects.exists()


def test_a_refund_without_or_with_a_reused_stripe_id_is_refused():
    payment = PaymentFactory()
    RefundFactory(payment=payment, stripe_refund_id="re_same")

    with pytest.raises(IntegrityError), transaction.atomic():
        RefundFactory(payment=payment, stripe_refund_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundFactory(payment=payment, stripe_refund_id="re_same")

    assert Refund.objects.count() == 1


@pytest.mark.parametrize("amount", [0, -1])
def test_a_donation_of_nothing_or_less_is_refused(amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        DonationFactory(amount=amount)

    assert not Donation.objects.exists()


def test_one_payment_intent_belongs_to_one_donation():
    DonationFactory(stripe_payment_intent_id="pi_same")
    DonationFactory(stripe_payment_intent_id=None)
    DonationFactory(stripe_payment_intent_id=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        DonationFactory(stripe_payment_intent_id="pi_same")

    assert Donation.objects.count() == 3


@pytest.mark.parametrize("amount", [0, -1])
def test_a_suggested_amount_of_nothing_or_less_is_refused(amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        SuggestedAmount.objects.create(currency="USD", amount=amount)

    assert not SuggestedAmount.objects.exists()


def test_a_suggested_amount_appears_once_per_currency():
    SuggestedAmount.objects.create(currency="USD", amount=1000)
    SuggestedAmount.objects.create(currency="EUR", amount=1000)

    with pytest.raises(IntegrityError), transaction.atomic():
        SuggestedAmount.objects.create(currency="USD", amount=1000, position=5)

    assert SuggestedAmount.objects.count() == 2
