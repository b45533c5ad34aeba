"""Addresses of our records' objects in Stripe's dashboard, for staff (admin links).

Test-mode objects live under /test/: a test secret key (sk_test_..., rk_test_...) means
every object we hold is a test one. Built from ids alone: no call to Stripe.
"""

from urllib.parse import quote

from django.conf import settings

DASHBOARD = "https://dashboard.stripe.com/"

# Our name for a kind of object -> its path in the dashboard.
PATHS = {
    "customer": "customers",
    "payment": "payments",  # a PaymentIntent (pi_) or a Charge (ch_, py_)
    "invoice": "invoices",
    "subscription": "subscriptions",
    "refund": "refunds",
    "dispute": "disputes",
    "event": "events",
    "setup_intent": "setup_intents",
}


def is_test_mode() -> bool:
    return settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_"))


def dashboard_url(kind: str, stripe_id: str | None) -> str | None:
    """`https://dashboard.stripe.com/[test/]<path>/<id>`, or None without an id."""
    if not stripe_id:
        return None
    prefix = DASHBOARD + ("test/" if is_test_mode() else "")
    return f"{prefix}{PATHS[kind]}/{quote(stripe_id, safe='')}"
