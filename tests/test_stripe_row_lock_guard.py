"""The contract recorder's row-lock check (tests/support/stripe_contract.py): a Stripe
request sent while the sending thread's transaction holds a row lock is reported, and
the test's own transaction (pytest-django's) is not taken for one.

Requests go through a real `StripeClient` whose transport answers here without a
network, so they pass the session's recorder as the gateway's requests do.
"""

import json
import threading

import pytest
import stripe
from django.db import connection, connections, transaction

from payments.models import Donor
from tests.factories import DonorFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the check asks PostgreSQL's pg_locks"
)


class _Answered(stripe.HTTPClient):
    name = "answered-here"

    def request(self, method, url, headers, post_data=None):
        return json.dumps({"id": "cus_1", "object": "customer"}), 200, {}

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError

    def close(self):
        pass


def ask_stripe() -> None:
    client = stripe.StripeClient("sk_test_guard", http_client=_Answered(), max_network_retries=0)
    client.v1.customers.retrieve("cus_1")


def row_lock_violations(stripe_contract) -> list[str]:
    return [str(v) for v in stripe_contract.take_violations() if "row locks" in v.problem]


@pytest.mark.django_db(transaction=True)
def test_a_request_sent_while_a_row_is_locked_is_reported(stripe_contract):
    donor = DonorFactory()

    with transaction.atomic():
        Donor.objects.select_for_update().get(pk=donor.pk)
        ask_stripe()

    (violation,) = row_lock_violations(stripe_contract)
    assert "GET /v1/customers/cus_1" in violation
    assert "payments_donor" in violation


@pytest.mark.django_db(transaction=True)
def test_a_request_after_the_lock_is_released_or_without_one_is_not_reported(stripe_contract):
    donor = DonorFactory()
    with transaction.atomic():
        Donor.objects.select_for_update().get(pk=donor.pk)
    ask_stripe()  # committed: nothing held
    with transaction.atomic():
        Donor.objects.get(pk=donor.pk)  # a read in a transaction locks nothing
        ask_stripe()

    assert row_lock_violations(stripe_contract) == []


@pytest.mark.django_db(transaction=True)
def test_each_thread_is_judged_by_its_own_connection(stripe_contract):
    """A lock held by the worker thread's transaction, not by the one calling Stripe."""
    donor = DonorFactory()
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Donor.objects.select_for_update().get(pk=donor.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        ask_stripe()
    finally:
        release.set()
        holder.join(10)

    assert row_lock_violations(stripe_contract) == []


@pytest.mark.django_db
def test_inside_the_tests_own_transaction_only_the_codes_open_block_counts(stripe_contract):
    """pytest-django's transaction keeps every lock until the test ends; a block the code
    has finished would have committed (and released its locks) in production."""
    donor = DonorFactory()
    with transaction.atomic():
        Donor.objects.select_for_update().get(pk=donor.pk)
    ask_stripe()  # the block is over: in production its lock is gone
    with transaction.atomic():
        Donor.objects.get(pk=donor.pk)
        ask_stripe()  # a new block that locked nothing itself
    assert row_lock_violations(stripe_contract) == []

    with transaction.atomic(), transaction.atomic():
        Donor.objects.select_for_update().get(pk=donor.pk)
        ask_stripe()  # the code's own block holds the lock (from a nested block too)

    (violation,) = row_lock_violations(stripe_contract)
    assert "payments_donor" in violation
