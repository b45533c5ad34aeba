"""What Stripe does on its own, which the emulator does not: renewals, refunds and
disputes made on Stripe's side, and the events it sends about them.

localstripe never renews, never marks a subscription past due after a declined
renewal, and sends no refund, dispute or `customer.subscription.updated` events.
Here the simulation plays Stripe: it calls the emulator's API as Stripe's billing
engine or dashboard would, and builds those events in the current API shape
(`tests/support/stripe_payloads.py`), keeps them in the emulator's events list
(so reconciliation finds them) and signs and sends them (`tests/support/webhooks.py`)
through the chaos proxy, as every delivery goes.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from tests.support import stripe_payloads as payloads
from tests.support.webhooks import sign


class StripeError(Exception):
    """The emulator answered an error to a call Stripe's side makes."""


@dataclass(frozen=True)
class PaidCharge:
    """A succeeded charge, as the simulation knows it (refunds and disputes pick from these)."""

    id: str
    payment_intent: str | None
    amount: int
    currency: str  # upper case, as the ledger keeps it
    customer: str | None
    kind: str  # "one-time", "gift membership", "membership"


class StripeSide:
    def __init__(self, emulator: str, *, secret_key: str, webhook_url: str, webhook_secret: str):
        self.base = emulator
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.session = requests.Session()
        self.session.auth = (secret_key, "")
        self.session.mount("http://", HTTPAdapter(pool_maxsize=32))
        self.sent: dict[str, int] = {}  # event type -> events the simulation sent
        self._lock = threading.Lock()
        self._senders = ThreadPoolExecutor(max_workers=24, thread_name_prefix="stripe-events")

    # --- The API --------------------------------------------------------------------

    def api(self, method: str, path: str, **data) -> dict:
        response = self.session.request(
            method, f"{self.base}/v1/{path}", json=data or None, timeout=60
        )
        body = response.json()
        if response.status_code >= 400:
            raise StripeError(f"{method} {path}: {response.status_code} {body}")
        return body

    def api_or_error(self, method: str, path: str, **data) -> tuple[int, dict]:
        response = self.session.request(
            method, f"{self.base}/v1/{path}", json=data or None, timeout=60
        )
        return response.status_code, response.json()

    def list_all(self, path: str, **params) -> list[dict]:
        """Every object of a list endpoint, page by page."""
        found: list[dict] = []
        after = None
        while True:
            query = {"limit": 100, **params, **({"starting_after": after} if after else {})}
            response = self.session.get(f"{self.base}/v1/{path}", params=query, timeout=120)
            page = response.json()
            if response.status_code >= 400:
                raise StripeError(f"GET {path}: {response.status_code} {page}")
            found.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return found
            after = page["data"][-1]["id"]

    def charge_of_intent(self, payment_intent_id: str) -> dict:
        intent = self.api("GET", f"payment_intents/{payment_intent_id}")
        charge = intent["latest_charge"]
        return charge if isinstance(charge, dict) else self.api("GET", f"charges/{charge}")

    def paid_charge(self, payment_intent_id: str, kind: str) -> PaidCharge:
        charge = self.charge_of_intent(payment_intent_id)
        if charge["status"] != "succeeded":
            raise StripeError(f"{payment_intent_id}: charge {charge['status']}")
        return PaidCharge(
            charge["id"],
            payment_intent_id,
            charge["amount"],
            charge["currency"].upper(),
            charge.get("customer"),
            kind,
        )

    # --- Events -----------------------------------------------------------------------

    def send(self, type: str, obj: dict) -> None:
        """Keep the event in Stripe's events list, then deliver it (in the background)."""
        response = self.session.post(
            f"{self.base}/_config/sim/events",
            json={"type": type, "object": obj, "api_version": payloads.API_VERSION},
            timeout=60,
        )
        response.raise_for_status()
        event = response.json()
        event.update(pending_webhooks=1, request={"id": None, "idempotency_key": None})
        with self._lock:
            self.sent[type] = self.sent.get(type, 0) + 1
        self._senders.submit(self._deliver, json.dumps(event).encode())

    def _deliver(self, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, self.webhook_secret),
        }
        # As Stripe does, a failed delivery is not retried at once (Stripe waits an hour
        # and more): only reconciliation brings a lost event back.
        self.session.post(self.webhook_url, data=body, headers=headers, timeout=120)

    def wait_sent(self) -> None:
        """Every event handed to the chaos proxy (which may still hold some)."""
        self._senders.shutdown(wait=True)

    # --- Subscriptions ----------------------------------------------------------------

    def subscription(self, subscription_id: str) -> dict:
        return self.api("GET", f"subscriptions/{subscription_id}")

    def subscription_updated(self, subscription_id: str) -> dict:
        """`customer.subscription.updated` with the subscription as Stripe has it now."""
        sub = self.subscription(subscription_id)
        item = sub["items"]["data"][0]
        plan = item.get("plan") or sub.get("plan") or {}
        obj = payloads.subscription(
            id=sub["id"],
            customer=sub["customer"],
            status=sub["status"],
            price=plan.get("id"),
            amount=plan.get("amount") or 0,
            currency=plan.get("currency") or "usd",
            interval=plan.get("interval") or "month",
            current_period_start=sub.get("current_period_start"),
            current_period_end=sub.get("current_period_end"),
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
            latest_invoice=sub.get("latest_invoice"),
            metadata=sub.get("metadata") or {},
            created=sub["created"],
        )
        self.send("customer.subscription.updated", obj)
        return sub

    def invoice_event(self, type: str, invoice: dict, subscription: dict) -> None:
        """An invoice event in the current shape (the subscription under `parent`)."""
        obj = payloads.invoice(
            id=invoice["id"],
            customer=invoice["customer"],
            subscription=subscription["id"],
            amount=invoice["amount_due"],
            currency=invoice["currency"],
            status=invoice["status"],
            billing_reason="subscription_cycle",
            subscription_metadata=subscription.get("metadata") or {},
            created=invoice["created"],
        )
        self.send(type, obj)

    def renew(self, subscription_id: str) -> tuple[str, dict]:
        """Stripe's renewal at the end of a period: invoice it, charge the default card.

        Returns ("paid" | "declined" | "action", invoice). A declined renewal makes the
        subscription past due and is told with `invoice.payment_failed`; one the bank
        wants authenticated is made past due (and told) by the emulator's shim already.
        """
        sub = self.subscription(subscription_id)
        invoice = self.api("POST", "invoices", customer=sub["customer"], subscription=sub["id"])
        self.api_or_error("POST", f"invoices/{invoice['id']}/pay")
        invoice = self.api("GET", f"invoices/{invoice['id']}")
        if invoice["status"] == "paid":
            self.invoice_event("invoice.paid", invoice, sub)
            self.subscription_updated(subscription_id)
            return "paid", invoice
        intent = self.api("GET", f"payment_intents/{invoice['payment_intent']}")
        if intent["status"] == "requires_action":
            self.subscription_updated(subscription_id)
            return "action", invoice
        self.session.post(
            f"{self.base}/_config/sim/subscriptions/{subscription_id}/status",
            json={"status": "past_due"},
            timeout=60,
        ).raise_for_status()
        self.invoice_event("invoice.payment_failed", invoice, sub)
        self.subscription_updated(subscription_id)
        return "declined", invoice

    def invoice_settled(self, subscription_id: str) -> dict | None:
        """After the member paid an open invoice on our site: Stripe's `invoice.paid` and
        the subscription's update (active again). Returns the paid invoice, if one is."""
        sub = self.subscription(subscription_id)
        invoice_id = sub.get("latest_invoice")
        invoice = self.api("GET", f"invoices/{invoice_id}") if invoice_id else None
        if invoice and invoice["status"] == "paid":
            self.invoice_event("invoice.paid", invoice, sub)
        self.subscription_updated(subscription_id)
        return invoice if invoice and invoice["status"] == "paid" else None

    def switch_card(self, customer: str, subscription: str, number: str) -> None:
        """The member's card changes under them (expired, stolen...): renewals use `number`
        (the subscription's own card, as the site sets it, and the customer's default)."""
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        method = self.api("POST", "payment_methods", type="card", card=card)
        self.api("POST", f"payment_methods/{method['id']}/attach", customer=customer)
        self.api(
            "POST",
            f"customers/{customer}",
            invoice_settings={"default_payment_method": method["id"]},
        )
        self.api("POST", f"subscriptions/{subscription}", default_payment_method=method["id"])

    def give_up(self, subscription_id: str) -> None:
        """After its last retry Stripe cancels the subscription (the emulator tells)."""
        self.api("DELETE", f"subscriptions/{subscription_id}")

    # --- Refunds and disputes ---------------------------------------------------------

    def refund(self, charge: PaidCharge, amount: int) -> dict:
        """A refund made in Stripe's dashboard, and Stripe's events about it."""
        refund = self.api("POST", "refunds", charge=charge.id, amount=amount)
        now = self.api("GET", f"charges/{charge.id}")
        self.send(
            "refund.created",
            payloads.refund(
                id=refund["id"],
                amount=refund["amount"],
                currency=refund["currency"],
                charge=charge.id,
                payment_intent=charge.payment_intent,
                status="succeeded",
                created=refund["created"],
            ),
        )
        self.send(
            "charge.refunded",
            payloads.charge(
                id=charge.id,
                amount=charge.amount,
                currency=charge.currency.lower(),
                payment_intent=charge.payment_intent,
                customer=charge.customer,
                amount_refunded=now["amount_refunded"],
                balance_transaction=now.get("balance_transaction"),
                created=now["created"],
            ),
        )
        return refund

    def dispute(self, charge: PaidCharge, *, status: str, dispute: dict | None = None) -> dict:
        """`charge.dispute.created` (no `dispute` yet) or `.closed` with its final status."""
        if dispute is None:
            dispute = payloads.dispute(
                amount=charge.amount,
                currency=charge.currency.lower(),
                charge=charge.id,
                payment_intent=charge.payment_intent,
                status=status,
            )
            self.send("charge.dispute.created", dispute)
        else:
            dispute = {**dispute, "status": status}
            self.send("charge.dispute.closed", dispute)
        return dispute
