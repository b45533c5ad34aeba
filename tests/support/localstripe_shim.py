"""Run localstripe with the few current-API parameters it does not know yet.

The product sends requests valid for the real Stripe API. localstripe (an
older emulator) refuses some of them, so this wrapper teaches it, and only it:

- `proration_behavior` on a subscription update: "none" is honoured
  (localstripe would otherwise always credit the unused time of the old price).
- `created` with both a lower and an upper bound when listing charges
  (localstripe takes only `created[gt]`).
- `invoice.payments`: the list of invoice_payment objects the current API
  has (localstripe only has the older `invoice.payment_intent`).

Usage (as `python -m localstripe`): python -m tests.support.localstripe_shim --port 8420
With `--webhook URL` it also sends its signed events to URL from the start,
signed with STRIPE_WEBHOOK_SECRET (what `make run` does).
"""

import os
import sys

from localstripe import resources, server, webhooks

_original_update = resources.Subscription._update
_original_item_init = resources.InvoiceItem.__init__
_prorations_off = False


def _update(self, proration_behavior=None, **data):
    global _prorations_off
    _prorations_off = proration_behavior == "none"
    try:
        return _original_update(self, **data)
    finally:
        _prorations_off = False


def _item_init(self, *args, proration=False, **kwargs):
    _original_item_init(self, *args, proration=proration, **kwargs)
    if proration and _prorations_off:  # the credit Stripe would not make: forget it
        del resources.store[f"{self.object}:{self.id}"]


resources.InvoiceItem.__init__ = _item_init


resources.Subscription._update = _update


def _payments(invoice) -> dict:
    data = []
    if invoice.payment_intent:
        intent = resources.PaymentIntent._api_retrieve(invoice.payment_intent)
        data.append(
            {
                "object": "invoice_payment",
                "invoice": invoice.id,
                "payment": {"type": "payment_intent", "payment_intent": intent.id},
                "status": {"succeeded": "paid", "canceled": "canceled"}.get(intent.status, "open"),
            }
        )
    return {"object": "list", "data": data, "has_more": False}


resources.Invoice.payments = property(_payments)

_original_list_charges = resources.Charge._api_list_all.__func__
_BOUNDS = {
    "gt": lambda created, bound: created > bound,
    "gte": lambda created, bound: created >= bound,
    "lt": lambda created, bound: created < bound,
    "lte": lambda created, bound: created <= bound,
}


def _list_charges(cls, url, created=None, **kwargs):
    listed = _original_list_charges(cls, url, **kwargs)
    if isinstance(created, dict):
        bounds = {op: int(value) for op, value in created.items()}
        listed._list = [
            charge
            for charge in listed._list
            if all(_BOUNDS[op](charge.created, bound) for op, bound in bounds.items())
        ]
    return listed


resources.Charge._api_list_all = classmethod(_list_charges)

if __name__ == "__main__":
    if "--webhook" in sys.argv:
        at = sys.argv.index("--webhook")
        url = sys.argv[at + 1]
        del sys.argv[at : at + 2]
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_patronage_local")
        webhooks.register_webhook("patronage", url, secret, None)
    server.start()
