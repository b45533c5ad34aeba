"""start_donation's storing: few statements, none open while Stripe is asked, and a donor
changed by another start between the lookup and the store handled once.

Stripe is replaced by a fake `create_customer` here (the journeys use the emulator)."""

import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from payments import stripe_gateway as gateway
from payments.models import Donation, Donor
from payments.services import donations
from tests.factories import DonorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_customers(monkeypatch):
    """Each customer Stripe is asked for: (email, name), and whether a transaction of
    start_donation's own was open then (the test's own one is always there)."""
    asked = []

    def create_customer(*, email, name, idempotency_key):
        asked.append({"email": email, "name": name, "in_transaction": connection.savepoint_ids})
        return f"cus_{len(asked)}"

    monkeypatch.setattr(gateway, "create_customer", create_customer)
    return asked


def start(email="reader@example.org", **kwargs) -> Donation:
    return donations.start_donation(amount=2500, currency="EUR", email=email, **kwargs)


STATEMENT = re.compile(r'(\w+)[^"]*"(\w+)"')


def statements(captured) -> list[str]:
    """Each statement sent as `VERB table`, without the savepoints of the test's own
    transaction."""
    return [
        " ".join(STATEMENT.match(q["sql"]).groups())
        for q in captured
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]


def test_a_new_donors_gift_costs_one_lookup_before_stripe_and_two_inserts_after(
    stripe_customers,
):
    with CaptureQueriesContext(connection) as captured:
        donation = start(name="Ada")
    assert statements(captured.captured_queries) == [
        "SELECT payments_donor",
        "INSERT payments_donor",
        "INSERT payments_donation",
    ]
    assert stripe_customers == [
        {"email": "reader@example.org", "name": "Ada", "in_transaction": []}
    ]
    assert donation.donor.stripe_customer_id == "cus_1"


def test_a_returning_donors_gift_asks_stripe_nothing_and_writes_one_row(stripe_customers):
    DonorFactory(email="reader@example.org", name="Ada", stripe_customer_id="cus_kept")
    with CaptureQueriesContext(connection) as captured:
        donation = start(name="Someone else")
    assert statements(captured.captured_queries) == [
        "SELECT payments_donor",
        "INSERT payments_donation",
    ]
    assert stripe_customers == []
    assert donation.donor.stripe_customer_id == "cus_kept"
    assert Donor.objects.get().name == "Ada"  # a guest's request changes no stored donor


def test_a_donor_stored_by_another_start_meanwhile_gets_this_gift_once(monkeypatch):
    def create_customer(*, email, name, idempotency_key):
        DonorFactory(email=email, stripe_customer_id="cus_theirs")  # the other start
        return "cus_ours"

    monkeypatch.setattr(gateway, "create_customer", create_customer)
    donation = start()
    assert Donor.objects.count() == 1
    assert Donation.objects.get() == donation
    assert donation.donor.stripe_customer_id == "cus_theirs"


def test_a_customer_kept_on_the_donor_meanwhile_is_the_one_the_gift_uses(monkeypatch):
    donor = DonorFactory(email="reader@example.org", stripe_customer_id=None)

    def create_customer(*, email, name, idempotency_key):
        Donor.objects.filter(pk=donor.pk).update(stripe_customer_id="cus_theirs")
        return "cus_ours"

    monkeypatch.setattr(gateway, "create_customer", create_customer)
    donation = start()
    assert donation.donor_id == donor.pk
    assert donation.donor.stripe_customer_id == "cus_theirs"
    assert Donation.objects.count() == 1


def test_the_signed_in_owner_names_and_links_their_donor_record(stripe_customers):
    user = UserFactory(email="member@example.org")
    DonorFactory(email="member@example.org", name="Old name", stripe_customer_id="cus_kept")
    start(email="member@example.org", name="New name", user=user)
    donor = Donor.objects.get()
    assert (donor.name, donor.user_id) == ("New name", user.pk)
    assert stripe_customers == []


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's"
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_start_commits_without_waiting_for_the_disk(stripe_customers):
    with CaptureQueriesContext(connection) as captured:
        start()
    sent = [q["sql"] for q in captured.captured_queries]
    assert "SET LOCAL synchronous_commit = off" in sent
    assert sent.index("SET LOCAL synchronous_commit = off") > sent.index("BEGIN")


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_start_inside_a_callers_transaction_leaves_its_durability_alone(stripe_customers):
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        start()
    assert "SET LOCAL synchronous_commit = off" not in [q["sql"] for q in captured.captured_queries]


def test_an_integrity_error_that_is_no_race_is_raised_not_retried_for_ever(stripe_customers):
    tries = []

    def always_refused(donation):
        tries.append(donation)
        raise IntegrityError("a constraint this gift breaks")

    with pytest.raises(IntegrityError):
        start(stored_with=always_refused)
    assert len(tries) == 2
    assert Donation.objects.count() == 0
