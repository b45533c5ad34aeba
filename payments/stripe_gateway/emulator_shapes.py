"""Reading the older object shapes that the localstripe emulator answers with: the only
place that does.

localstripe stands in for Stripe in the tests, in `make run` and in the
simulation, and it answers in the shapes of API versions older than the one
we pin (`STRIPE_API_VERSION`). Real Stripe answers our requests in the pinned
shape. The parsers (`parsing.py`) call the functions here only when the
current field is missing, so for an object in the current shape they change
nothing.

Once localstripe answers in the current shape, delete the function here and
its fields in EMULATOR_ONLY_FIELDS. tests/test_stripe_fields.py checks that
every field a parser reads is in the pinned API version or listed in
EMULATOR_ONLY_FIELDS, and that the list holds nothing else.
"""

from typing import Any

# Fields the parsers read that the pinned API version no longer has: localstripe
# answers in an older shape, so they are read only as a fallback when the current
# field is absent. tests/test_stripe_fields.py checks every other field read
# against the pinned version's definitions, and that this list stays honest.
EMULATOR_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset({"charges", "charges.data"}),  # before 2022-11-15
    "invoice": frozenset({"payment_intent", "subscription", "charge"}),  # before 2025-03-31
    "subscription": frozenset({"current_period_end", "plan"}),  # before 2025-03-31
}


def intent_charge_before_2022_11_15(intent: dict) -> Any:
    """A PaymentIntent's newest charge from its `charges` list (Stripe lists the newest
    first), which `latest_charge` replaced in 2022-11-15."""
    if not isinstance(intent.get("charges"), dict):
        return None
    charges = intent["charges"].get("data") or []
    return charges[0] if charges else None


def subscription_plan_instead_of_price(subscription: dict, item: dict) -> tuple[dict, int, str]:
    """The Plan (`amount`, `interval`) of a subscription whose item has no Price:
    localstripe's items hold only a Plan, and a subscription without items held one
    top-level `plan` (before 2025-03-31). Returns the plan, its amount and interval."""
    plan = item.get("plan") or subscription.get("plan") or {}
    return plan, plan.get("amount") or 0, plan.get("interval") or ""


def subscription_period_end_before_2025_03_31(subscription: dict) -> int | None:
    """`current_period_end` on the subscription itself (now on each of its items)."""
    return subscription.get("current_period_end")


def invoice_field_before_2025_03_31(invoice: dict, name: str) -> Any:
    """An invoice's top-level `subscription`, `payment_intent` or `charge`, which moved
    in 2025-03-31 (to `parent.subscription_details.subscription` and to
    `payments.data.payment`)."""
    return invoice.get(name)


def unexpanded_balance_transaction(charge: dict) -> str | None:
    """The id of a charge's balance transaction when the emulator ignored
    `expand: balance_transaction` (Stripe expands it when asked), else None."""
    transaction = charge.get("balance_transaction")
    return transaction if isinstance(transaction, str) else None
