"""tests/factories.py: a factory for every model, each making rows the product could have.

A model added without a factory fails the first test; a factory that breaks a
constraint or a validator fails the second.
"""

import factory
import pytest
from django.apps import apps

from payments.states import RefundStatus
from tests import factories

pytestmark = pytest.mark.django_db

APPS = ("payments", "members", "content")


FACTORIES = sorted(
    (
        value
        for value in vars(factories).values()
        if isinstance(value, type)
        and issubclass(value, factory.django.DjangoModelFactory)
        and value is not factory.django.DjangoModelFactory
    ),
    key=lambda value: value.__name__,
)


def test_every_model_has_a_factory():
    models = {model for label in APPS for model in apps.get_app_config(label).get_models()}
    made = {f._meta.model for f in FACTORIES}
    missing = sorted(model.__name__ for model in models - made)
    assert missing == []


@pytest.mark.parametrize("model_factory", FACTORIES, ids=lambda f: f.__name__)
def test_each_factory_makes_valid_rows_again_and_again(model_factory):
    rows = [model_factory(), model_factory()]

    for row in rows:
        row.full_clean()  # field validators, choices and constraints, as admin would check
    assert rows[0].pk != rows[1].pk


def test_refunds_keep_the_payments_refunded_total_as_the_product_does():
    payment = factories.PaymentFactory(amount=5000)

    factories.RefundFactory(payment=payment, amount=1000)
    factories.RefundFactory(payment=payment, amount=500, status=RefundStatus.PENDING)
    factories.RefundFactory(payment=payment, amount=1500)

    payment.refresh_from_db()
    assert payment.amount_refunded == 2500  # succeeded ones only
    assert factories.RefundFactory(payment=payment).amount == 2500  # the rest, by default


def test_a_paid_membership_is_paid_by_its_members_donor():
    membership = factories.PaidMembershipFactory()

    assert membership.donor.user == membership.user
    assert membership.donor.email == membership.user.email == membership.email
    assert membership.money.amount == 500 and membership.has_perks


def test_a_level_amount_belongs_to_a_level_with_perks():
    amount = factories.LevelAmountFactory()
    assert amount.level.perks == ["The newsletter", "Our thanks in the annual report"]
