"""Run localstripe with the few current-API parameters it does not know yet.

The product sends requests valid for the real Stripe API. localstripe (an
older emulator) refuses some of them, so this wrapper teaches it, and only it:

- `proration_behavior` on a subscription update: "none" is honoured
  (localstripe would otherwise always credit the unused time of the old price).
- `created` with both a lower and an upper bound when listing charges
  (localstripe takes only `created[gt]`), and `types` when listing events.
- `invoice.payments`: the list of invoice_payment objects the current API
  has (localstripe only has the older `invoice.payment_intent`), and
  `GET /v1/invoice_payments` to find the invoice a PaymentIntent paid.
- `paid_out_of_band` on `invoices.pay` (an invoice paid by cheque or transfer).
- `POST /v1/webhook_endpoints`, registered as one of localstripe's own webhooks.
- A declined PaymentIntent's 402 is a `card_error` naming the PaymentIntent
  (localstripe leaves it out).
- `allowed_payment_method_types` on PaymentIntents and SetupIntents: the
  current API's replacement for `payment_method_types` (removed in the endive
  versions), which localstripe still expects.
- SetupIntent state checks: a confirm of a SetupIntent that is not waiting for
  one (say, it already succeeded) is refused with 400
  `setup_intent_unexpected_state`, as Stripe refuses it; so is a cancel of one
  that succeeded or was canceled already.
- Failed card checks reported as Stripe reports them (localstripe sends no
  event for a declined SetupIntent): a card declined while a SetupIntent is
  confirmed sets its `last_setup_error` (naming the card's payment method,
  fingerprint included) and sends `setup_intent.setup_failed`; a declined
  PaymentIntent's `last_payment_error` names its payment method too.
- `off_session` on `invoices.pay`, and what Stripe does when the bank wants
  3-D Secure for an invoice (PaymentIntent `requires_action`, a 402,
  `invoice.payment_action_required`, a renewal past due) or declines it (402).
- A charge's balance transaction appears just after the charge succeeds, with
  a `charge.updated` event, as on current API versions (asynchronous capture).
- `reason` on a refund (duplicate, fraudulent or requested_by_customer), and the
  `refund.created` and `charge.refunded` events Stripe sends for a new refund.
- Stripe.js's `createPaymentMethod` (a card entered in the page, made with the
  publishable key: `POST /v1/payment_methods` accepts it), added to localstripe's
  fake Stripe.js from `localstripe_shim.js`, as is Stripe's code for a failed 3-D
  Secure check while a card is set up.
- A subscription's first payment authenticated on the page (3-D Secure) sets its
  card up for renewals made while the member is away, as Stripe does.
- Stripe's declining test cards (4000000000000002 and the others localstripe
  refuses only when they are attached to a customer) are declined when charged
  too, as on Stripe.
- It listens on 127.0.0.1 only (localstripe listens on every interface).
- It keeps its objects in memory, or in the file `--state-file PATH` names
  (localstripe keeps them in /tmp/localstripe.pickle, one file for every
  emulator on the machine).

Usage (as `python -m localstripe`): python -m tests.support.localstripe_shim --port 8420
With `--state-file PATH` its objects outlive a restart (`make run` keeps them in
var/stripe-emulator.state); without it they live in memory only (the tests, the
simulation). With `--webhook URL` it also sends its signed events to URL from the
start, signed with STRIPE_WEBHOOK_SECRET (what `make run` does).
"""

import argparse
import asyncio
import logging
import os
import pickle
import socket
from pathlib import Path

from aiohttp import web
from localstripe import resources, server, webhooks
from localstripe.errors import UserError

_original_update = resources.Subscription._update
_original_item_init = resources.InvoiceItem.__init__
_prorations_off = False


def _update(self, proration_behavior=None, default_payment_method=None, **data):
    global _prorations_off
    if default_payment_method is not None:
        _set_subscription_card(self, default_payment_method)
    _prorations_off = proration_behavior == "none"
    try:
        return _original_update(self, **data)
    finally:
        _prorations_off = False


# A subscription's own card (`default_payment_method`), as Stripe has it: its invoices are
# charged to that card before the customer's default. localstripe knows only the latter.
_original_subscription_init = resources.Subscription.__init__
_original_pay_invoice = resources.Invoice._api_pay_invoice.__func__


def _set_subscription_card(subscription, payment_method) -> None:
    if payment_method:
        resources.PaymentMethod._api_retrieve(payment_method)  # 404 for an unknown card
    subscription.default_payment_method = payment_method or None


def _subscription_init(self, *args, default_payment_method=None, **kwargs):
    # Known before the first invoice, which __init__ creates and pays
    self.default_payment_method = None
    if default_payment_method:
        _set_subscription_card(self, default_payment_method)
    _original_subscription_init(self, *args, **kwargs)


def _pay_invoice(cls, id):
    invoice = resources.Invoice._api_retrieve(id)
    subscription = (
        resources.Subscription._api_retrieve(invoice.subscription) if invoice.subscription else None
    )
    card = getattr(subscription, "default_payment_method", None)
    if not card:
        return _original_pay_invoice(cls, id)
    customer = resources.Customer._api_retrieve(invoice.customer)
    settings = customer.invoice_settings
    usual = settings.get("default_payment_method")
    settings["default_payment_method"] = card  # only while this invoice is paid
    try:
        return _original_pay_invoice(cls, id)
    finally:
        settings["default_payment_method"] = usual


resources.Subscription.__init__ = _subscription_init
resources.Invoice._api_pay_invoice = classmethod(_pay_invoice)


def _item_init(self, *args, proration=False, **kwargs):
    _original_item_init(self, *args, proration=proration, **kwargs)
    if proration and _prorations_off:  # the credit Stripe would not make: forget it
        del resources.store[f"{self.object}:{self.id}"]


resources.InvoiceItem.__init__ = _item_init


def _allowing_types(original):
    """localstripe only knows the removed `payment_method_types`: map the current name to it."""

    def __init__(self, *args, allowed_payment_method_types=None, **kwargs):
        if allowed_payment_method_types is not None:
            kwargs["payment_method_types"] = allowed_payment_method_types
        original(self, *args, **kwargs)

    return __init__


resources.PaymentIntent.__init__ = _allowing_types(resources.PaymentIntent.__init__)
resources.SetupIntent.__init__ = _allowing_types(resources.SetupIntent.__init__)

_original_report_failure = resources.PaymentIntent._report_failure


def _report_failure(self):
    """A declined PaymentIntent's 402 names the PaymentIntent, as Stripe's `card_error` does."""
    try:
        _original_report_failure(self)
    except UserError as error:
        error.body["error"]["type"] = "card_error"
        error.body["error"]["payment_intent"] = self._export()
        raise


resources.PaymentIntent._report_failure = _report_failure


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

_original_list_events = resources.Event._api_list_all.__func__


def _list_events(cls, url, types=None, **kwargs):
    """`types` (several event types at once), which localstripe does not filter by."""
    listed = _original_list_events(cls, url, **kwargs)
    if types is not None:
        wanted = set(types.values() if isinstance(types, dict) else types)
        listed._list = [event for event in listed._list if event.type in wanted]
    return listed


resources.Event._api_list_all = classmethod(_list_events)

_original_refund_init = resources.Refund.__init__
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _refund_init(self, *args, reason=None, **kwargs):
    """`reason` on a refund, as Stripe takes it (one of three) and shows it back; and the
    events Stripe sends for a new refund (localstripe sends none): `refund.created` and
    `charge.refunded`."""
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(400, "Invalid reason: must be one of " + ", ".join(REFUND_REASONS))
    _original_refund_init(self, *args, **kwargs)
    self.reason = reason
    charge = resources.Charge._api_retrieve(self.charge)
    for event in (
        resources.Event("refund.created", self),
        resources.Event("charge.refunded", charge),
    ):
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not serving a request: listed in /v1/events only
            continue
        webhooks.schedule_webhook(event)


resources.Refund.__init__ = _refund_init


# --- Routes localstripe bound at import time: the shim answers a few itself -----------
#
# localstripe registers its extra routes (`/v1/invoices/{id}/pay`, ...) with the
# functions themselves, so patching the classes does not reach them: a middleware
# hands those requests to the shim's own function, called like localstripe's.

_ROUTES = {}  # (method, route pattern) -> function(**params)


@web.middleware
async def _shim_routes(request, handler):
    resource = request.match_info.route.resource
    pattern = resource.canonical if resource is not None else None
    override = _ROUTES.get((request.method, pattern))
    if override is not None:
        handler = server.api_extra(override, pattern)
    return await handler(request)


server.app.middlewares.append(_shim_routes)


# --- Stripe.js: cards made in the page ------------------------------------------------------
#
# The page makes a PaymentMethod from the card Element with the publishable key
# (Stripe.js `createPaymentMethod`), which Stripe accepts and localstripe's
# authentication refuses: the shim lets that one call through with a `pk_` key, and
# serves localstripe's fake Stripe.js with `localstripe_shim.js` appended.

_STRIPE_JS_ADDITIONS = Path(__file__).with_name("localstripe_shim.js").read_text()


@web.middleware
async def _publishable_key_calls(request, handler):
    if (
        request.method == "POST"
        and request.path == "/v1/payment_methods"
        and server.get_api_key(request) is None
    ):
        data = await server.get_post_data(request, remove_auth=False) or {}
        key = data.get("key")
        if isinstance(key, str) and key.startswith("pk_"):
            return await handler(request)
    return await server.auth_middleware(request, handler)


server.app.middlewares[server.app.middlewares.index(server.auth_middleware)] = (
    _publishable_key_calls
)


@web.middleware
async def _stripe_js(request, handler):
    response = await handler(request)
    if request.path == "/js.stripe.com/v3/" and response.status == 200:
        return web.Response(
            text=response.text + "\n" + _STRIPE_JS_ADDITIONS,
            content_type="application/javascript",
        )
    return response


server.app.middlewares.append(_stripe_js)


# A subscription's first invoice authenticated on the page: Stripe then holds the card as
# set up for the renewals it charges while the member is away (see _requires_authentication).
_original_authenticate = resources.PaymentIntent._api_authenticate.__func__


def _authenticate_payment_intent(id, **params):
    intent = _original_authenticate(resources.PaymentIntent, id, **params)
    if intent.status == "succeeded" and intent.invoice and intent.payment_method:
        method = resources.PaymentMethod._api_retrieve(intent.payment_method)
        method._set_up_off_session = True
    return intent


_ROUTES[("POST", "/v1/payment_intents/{id}/_authenticate")] = _authenticate_payment_intent


def _card_error(message: str, code: str, intent) -> UserError:
    """A 402 as Stripe sends it (localstripe calls every error `invalid_request_error`)."""
    error = UserError(402, message, {"code": code, "payment_intent": intent._export()})
    error.body["error"]["type"] = "card_error"
    return error


# --- SetupIntent state checks ----------------------------------------------------------
#
# Stripe refuses to confirm a SetupIntent that is not waiting for confirmation
# (400 `setup_intent_unexpected_state`), for instance one that already
# succeeded; localstripe confirms it again. A card declined while being set
# up leaves it `requires_payment_method` for another card, as on Stripe
# (localstripe cancels the SetupIntent). A SetupIntent with
# `usage: off_session` that succeeds also marks its card as set up for
# payments made while the customer is away (see `_requires_authentication`).

_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _confirm_setup_intent(id, client_secret=None, **params):
    intent = resources.SetupIntent._api_retrieve(id)
    if client_secret is not None and client_secret != intent.client_secret:
        raise UserError(401, "Unauthorized")
    if intent.status not in _CONFIRMABLE:
        why = (
            "it has already succeeded after being previously confirmed"
            if intent.status == "succeeded"
            else f"it has a status of {intent.status}"
        )
        raise UserError(
            400,
            f"You cannot confirm this SetupIntent because {why}.",
            {"code": "setup_intent_unexpected_state", "setup_intent": intent._export()},
        )
    try:
        confirmed = resources.SetupIntent._api_confirm(id, client_secret=client_secret, **params)
    except UserError as error:
        if intent.status == "canceled":  # a declined card: Stripe waits for another one
            _setup_failed(intent, error)
        raise
    intent.last_setup_error = None
    if confirmed.status == "succeeded" and confirmed.usage == "off_session":
        method = resources.PaymentMethod._api_retrieve(confirmed.payment_method)
        method._set_up_off_session = True
    return confirmed


def _setup_failed(intent, error: UserError) -> None:
    """What Stripe does when a card is declined at setup: the SetupIntent waits for
    another card, remembers why (`last_setup_error`, with the card tried) and says so
    with `setup_intent.setup_failed`; the 402 is a `card_error` naming the SetupIntent."""
    method = resources.PaymentMethod._api_retrieve(intent.payment_method)
    details = error.body["error"]
    intent.status, intent.payment_method = "requires_payment_method", None
    intent.last_setup_error = {
        "type": "card_error",
        "code": details.get("code") or "card_declined",
        "decline_code": "generic_decline",
        "message": details.get("message") or "Your card was declined.",
        "payment_method": method._export(),
    }
    details["type"] = "card_error"
    details["setup_intent"] = intent._export()
    webhooks.schedule_webhook(resources.Event("setup_intent.setup_failed", intent))


def _cancel_setup_intent(id, client_secret=None, **params):
    intent = resources.SetupIntent._api_retrieve(id)
    if intent.status not in _CONFIRMABLE:
        raise UserError(
            400,
            f"You cannot cancel this SetupIntent because it has a status of {intent.status}.",
            {"code": "setup_intent_unexpected_state", "setup_intent": intent._export()},
        )
    return resources.SetupIntent._api_cancel(id, client_secret=client_secret, **params)


_ROUTES[("POST", "/v1/setup_intents/{id}/confirm")] = _confirm_setup_intent
_ROUTES[("POST", "/v1/setup_intents/{id}/cancel")] = _cancel_setup_intent

_original_last_payment_error = resources.PaymentIntent.last_payment_error


def _last_payment_error(self):
    """A declined PaymentIntent's error names the card tried, as Stripe's card errors do."""
    error = _original_last_payment_error.fget(self)
    if error and self.payment_method and "payment_method" not in error:
        method = resources.store.get(f"payment_method:{self.payment_method}")
        if method is not None:
            error = {**error, "type": "card_error", "payment_method": method._export()}
    return error


resources.PaymentIntent.last_payment_error = property(_last_payment_error)


# --- Paying an invoice on or off session -------------------------------------------------
#
# `invoices.pay` takes `off_session` (default true: the customer is away, as at
# a renewal); localstripe takes no parameter at all. Stripe's test cards then
# behave as documented: 4000002760003184 asks for authentication on every
# payment; 4000002500003155 asks for it unless it was set up for off-session
# payments (a SetupIntent with `usage: off_session`) and the payment is off
# session. A payment the bank wants authenticated leaves the invoice open with
# its PaymentIntent `requires_action`, answers 402
# `invoice_payment_intent_requires_action`, makes a renewing subscription
# `past_due` and sends `invoice.payment_action_required` and
# `invoice.payment_failed`; a declined one answers 402 `card_declined`
# (localstripe answers 200 to both, sends neither event, and never marks the
# subscription past due).

SET_UP_ONCE_CARD = "4000002500003155"
_paying_off_session = False
_original_requires_authentication = resources.PaymentMethod._requires_authentication


def _requires_authentication(self):
    if (
        _paying_off_session
        and getattr(self, "_set_up_off_session", False)
        and getattr(self, "_card_number", None) == SET_UP_ONCE_CARD
    ):
        return False
    return _original_requires_authentication(self)


resources.PaymentMethod._requires_authentication = _requires_authentication

# Stripe's declining test cards are declined however they are used: attached to a
# customer (as localstripe has it) and charged directly (which localstripe lets through).
_original_charging_is_declined = resources.PaymentMethod._charging_is_declined


def _charging_is_declined(self):
    return _original_charging_is_declined(self) or self._attaching_is_declined()


resources.PaymentMethod._charging_is_declined = _charging_is_declined


def _pay_invoice(id, off_session=None, paid_out_of_band=None, **params):
    global _paying_off_session
    if params:
        raise UserError(400, "Unexpected " + ", ".join(params))
    if resources.try_convert_to_bool(paid_out_of_band) is True:
        return _mark_paid_out_of_band(id)
    off_session = True if off_session is None else resources.try_convert_to_bool(off_session)
    if not isinstance(off_session, bool):
        raise UserError(400, "Bad request")
    _paying_off_session = off_session
    try:
        invoice = resources.Invoice._api_pay_invoice(id)
    finally:
        _paying_off_session = False
    if not invoice.payment_intent:
        return invoice
    intent = resources.PaymentIntent._api_retrieve(invoice.payment_intent)
    if intent.status == "requires_action":
        if invoice.subscription:
            subscription = resources.Subscription._api_retrieve(invoice.subscription)
            if subscription.status in ("active", "trialing"):
                subscription.status = "past_due"
        webhooks.schedule_webhook(resources.Event("invoice.payment_action_required", invoice))
        webhooks.schedule_webhook(resources.Event("invoice.payment_failed", invoice))
        raise _card_error(
            "This payment requires additional user action before it can be completed "
            "successfully. Payment can be completed using the PaymentIntent associated "
            "with the invoice.",
            "invoice_payment_intent_requires_action",
            intent,
        )
    if intent.status == "requires_payment_method":
        error = intent.last_payment_error or {}
        raise _card_error(
            error.get("message") or "Your card was declined.",
            error.get("code") or "card_declined",
            intent,
        )
    return invoice


_ROUTES[("POST", "/v1/invoices/{id}/pay")] = _pay_invoice


# --- Invoices paid outside Stripe; invoice payments found by PaymentIntent ---------------
#
# `invoices.pay` with `paid_out_of_band=true` (a cheque, a transfer) marks the
# invoice paid with no PaymentIntent; localstripe has no such thing. And the
# current API finds the invoice a PaymentIntent paid with
# `GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=`
# (the PaymentIntent no longer names its invoice); localstripe has no such list.

_original_invoice_status = resources.Invoice.status


def _invoice_status(self):
    if getattr(self, "_paid_out_of_band", False):
        return "paid"
    return _original_invoice_status.fget(self)


resources.Invoice.status = property(_invoice_status)


def _mark_paid_out_of_band(id):
    invoice = resources.Invoice._api_retrieve(id)
    if invoice.status not in ("draft", "open"):
        raise UserError(
            400, "Invoice is already paid" if invoice.status == "paid" else "Bad request"
        )
    if invoice.payment_intent:
        intent = resources.PaymentIntent._api_retrieve(invoice.payment_intent)
        if intent.status not in ("succeeded", "canceled"):
            intent._canceled = True  # Stripe cancels the invoice's own attempt
            invoice.payment_intent = None
    invoice._draft = False
    invoice._paid_out_of_band = True
    invoice._on_payment_success()
    return invoice


async def _list_invoice_payments(request):
    data = server.unflatten_data(request.query)
    payment = data.get("payment") or {}
    intent_id = payment.get("payment_intent")
    listed = [
        invoice_payment
        for key, invoice in list(resources.store.items())
        if key.startswith("invoice:")
        for invoice_payment in invoice.payments["data"]
        if intent_id is None or invoice_payment["payment"].get("payment_intent") == intent_id
    ]
    return server.json_response(
        {"object": "list", "url": "/v1/invoice_payments", "data": listed, "has_more": False}
    )


server.app.router.add_get("/v1/invoice_payments", _list_invoice_payments)


# --- Webhook endpoints created through the API ---------------------------------------------
#
# `POST /v1/webhook_endpoints` (what `manage.py create_stripe_webhook` calls):
# localstripe only has its private `/_config/webhooks/<id>`. The endpoint is
# registered there, for its enabled events, with a signing secret made here.


async def _create_webhook_endpoint(request):
    data = await server.get_post_data(request) or {}
    url, events = data.get("url"), data.get("enabled_events")
    if not url or not isinstance(events, list) or not events:
        raise UserError(400, "url and enabled_events are required")
    endpoint_id = "we_" + resources.random_id(14)
    secret = "whsec_" + resources.random_id(24)
    webhooks.register_webhook(endpoint_id, url, secret, None if events == ["*"] else events)
    return server.json_response(
        {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "api_version": data.get("api_version"),
            "description": data.get("description"),
            "enabled_events": events,
            "secret": secret,
            "status": "enabled",
            "url": url,
        }
    )


server.app.router.add_post("/v1/webhook_endpoints", _create_webhook_endpoint)


# --- Deliveries in flight (for the tests, not an API) -----------------------------------------
#
# localstripe sends each event a second after it happens. A test that is over
# waits for `GET /_config/pending_webhooks` to say 0 before its database is
# emptied, so no delivery lands in the middle of that.

_deliveries_in_flight = 0
_original_send_webhook = webhooks._send_webhook


async def _send_webhook(event):
    global _deliveries_in_flight
    _deliveries_in_flight += 1
    try:
        await _original_send_webhook(event)
    finally:
        _deliveries_in_flight -= 1


webhooks._send_webhook = _send_webhook


async def _config_pending_webhooks(request):
    return web.json_response({"pending": _deliveries_in_flight})


server.app.router.add_get("/_config/pending_webhooks", _config_pending_webhooks)


# --- Charges settle after they succeed ---------------------------------------------------
#
# On current API versions a card charge may succeed before its balance
# transaction (Stripe's fee) exists: `balance_transaction` is null in the
# PaymentIntent's and the invoice's events, and Stripe sends `charge.updated`
# once it is set. localstripe creates it with the charge. Here it appears on
# the event loop's next turn (so reads that follow see it), with a
# `charge.updated` event carrying its id. Tests can hold it back:
# POST /_config/settlement {"hold": true}, then {"hold": false} settles every
# charge held meanwhile.

_original_trigger_payment = resources.Charge._trigger_payment
_settlement_held = False
_held_charges = []


def _trigger_payment(self, on_success=None):
    if self._is_async_payment_method():  # SEPA: localstripe settles it later already
        return _original_trigger_payment(self, on_success)
    self.balance_transaction = None
    self.status = "succeeded"
    if on_success:
        on_success()
    if _settlement_held:
        _held_charges.append(self.id)
        return None
    try:
        asyncio.get_running_loop().call_soon(_settle, self.id)
    except RuntimeError:  # not serving a request: settle at once
        _settle(self.id)
    return None


def _settle(charge_id: str) -> None:
    charge = resources.store.get(f"charge:{charge_id}")
    if charge is None or charge.balance_transaction is not None:
        return
    transaction = resources.BalanceTransaction(
        amount=charge.amount,
        currency=charge.currency,
        description=charge.description,
        exchange_rate=1.0,
        reporting_category="charge",
        source=charge.id,
        type="charge",
    )
    charge.balance_transaction = transaction.id
    webhooks.schedule_webhook(resources.Event("charge.updated", charge))


resources.Charge._trigger_payment = _trigger_payment


async def _config_settlement(request):
    global _settlement_held
    data = await server.get_post_data(request) or {}
    _settlement_held = bool(data.get("hold"))
    while not _settlement_held and _held_charges:
        _settle(_held_charges.pop(0))
    return web.Response()


server.app.router.add_post("/_config/settlement", _config_settlement)


# --- Where the objects are kept ---------------------------------------------------------
#
# localstripe pickles its whole store to /tmp/localstripe.pickle after every change
# and reads it back at start: one file shared by every emulator on the machine, so a
# test run, a simulation or another checkout replaced the customers and subscriptions
# `make run`'s database points at. Here the store is in memory only, unless
# `--state-file` names a file of its own: read at start, rewritten (whole, then
# renamed into place) after every change and when the emulator stops.

_state_file: Path | None = None
_log = logging.getLogger("localstripe_shim")


def _load_state(store) -> None:
    if _state_file is None or not _state_file.exists():
        return
    try:
        with _state_file.open("rb") as state:
            objects = pickle.load(state)  # noqa: S301 (the file this emulator wrote)
    except Exception as error:  # say, written by another localstripe version
        aside = _state_file.with_name(_state_file.name + ".unreadable")
        os.replace(_state_file, aside)
        _log.warning("Could not read %s (%r): set aside as %s", _state_file, error, aside)
        return
    store.clear()
    dict.update(store, objects)  # not through __setitem__, which would write the file again


def _dump_state(store) -> None:
    if _state_file is None:
        return
    partial = _state_file.with_name(_state_file.name + ".partial")
    with partial.open("wb") as state:
        pickle.dump(dict(store), state, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, _state_file)


resources.Store.try_load_from_disk = _load_state
resources.Store.dump_to_disk = _dump_state


async def _dump_on_shutdown(app) -> None:
    """Changes made after a request ended (a charge settling) are kept too."""
    resources.store.dump_to_disk()


server.app.on_shutdown.append(_dump_on_shutdown)


# --- Listening on loopback only ----------------------------------------------------------


def listening_socket(port: int) -> socket.socket:
    """The server's socket, on 127.0.0.1 only (localstripe's own start listens on every
    interface, IPv4 and IPv6)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help="keep the objects in PATH, across restarts (default: in memory only)",
    )
    parser.add_argument(
        "--from-scratch", action="store_true", help="start empty, even if PATH holds objects"
    )
    parser.add_argument("--webhook", metavar="URL", help="send signed events to URL")
    args = parser.parse_args(argv)
    if args.webhook:
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_patronage_local")
        webhooks.register_webhook("patronage", args.webhook, secret, None)
    global _state_file
    _state_file = args.state_file.resolve() if args.state_file else None
    if _state_file is not None:
        _state_file.parent.mkdir(parents=True, exist_ok=True)
        if args.from_scratch:
            _state_file.unlink(missing_ok=True)
        resources.store.try_load_from_disk()
    access_log = logging.getLogger("aiohttp.access")
    access_log.setLevel(logging.DEBUG)
    access_log.addHandler(logging.StreamHandler())
    web.run_app(server.app, sock=listening_socket(args.port), access_log=access_log)


if __name__ == "__main__":
    main()
