"""The localstripe shim answers as Stripe does where the emulator does not.

Each test talks to the session's emulator over HTTP (no product code), the way
Stripe.js or the Stripe client would, with Stripe's own test cards.
"""

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.support.processes import free_port, running_emulator
from tests.support.settlement import charges_settle_later
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    confirm_card_setup,
    create_payment_method,
)

# Every test here talks to an emulator: the session's, or one it starts itself.
pytestmark = pytest.mark.integration

CARD_DECLINED_AT_SETUP = "4000000000000002"
CARD_SET_UP_ONCE = "4000002500003155"  # authenticate unless set up for off-session payments


@pytest.fixture
def stripe(localstripe):
    """Call the emulator with the secret key, as the Stripe client does; returns (status, body)."""

    def call(method: str, path: str, **params) -> tuple[int, dict]:
        response = requests.request(
            method,
            f"{localstripe}/v1/{path}",
            data=params if method == "POST" else None,
            params=params if method == "GET" else None,
            auth=(settings.STRIPE_SECRET_KEY, ""),
            timeout=10,
        )
        return response.status_code, response.json()

    return call


def card(stripe, number: str) -> str:
    _, method = stripe(
        "POST",
        "payment_methods",
        type="card",
        **{
            "card[number]": number,
            "card[exp_month]": 12,
            "card[exp_year]": 2034,
            "card[cvc]": "123",
        },
    )
    return method["id"]


def use_card(stripe, customer: str, method: str) -> None:
    """Make `method` the customer's card for invoices."""
    stripe("POST", f"payment_methods/{method}/attach", customer=customer)
    stripe("POST", f"customers/{customer}", **{"invoice_settings[default_payment_method]": method})


def customer_with_card(stripe, number: str) -> str:
    """A customer whose card for invoices is `number`."""
    _, customer = stripe("POST", "customers", email="shim@example.org")
    use_card(stripe, customer["id"], card(stripe, number))
    return customer["id"]


def setup_intent(stripe, *, usage: str = "off_session", customer: str | None = None) -> dict:
    params = {"usage": usage, "allowed_payment_method_types[]": "card"}
    if customer:
        params["customer"] = customer
    status, intent = stripe("POST", "setup_intents", **params)
    assert status == 200, intent
    return intent


def events_about(stripe, type: str, object_id: str) -> list[dict]:
    """The emulator's events of `type` about `object_id`, every page of them."""
    found, after = [], None
    while True:
        params = {"type": type, "limit": 100, **({"starting_after": after} if after else {})}
        _, page = stripe("GET", "events", **params)
        found += [e for e in page["data"] if e["data"]["object"]["id"] == object_id]
        if not page["has_more"]:
            return found
        after = page["data"][-1]["id"]


def renewal(stripe, customer: str) -> dict:
    """A member's next invoice, not paid yet: subscribed (and paid) with a good card, then
    the card for invoices is the customer's current one."""
    current = stripe("GET", f"customers/{customer}")[1]["invoice_settings"][
        "default_payment_method"
    ]
    stripe(
        "POST",
        "plans",
        id="shim-monthly-eur-1200",
        amount=1200,
        currency="eur",
        interval="month",
        **{"product[name]": "Shim"},
    )
    use_card(stripe, customer, card(stripe, CARD_OK))
    _, subscription = stripe(
        "POST", "subscriptions", customer=customer, **{"items[0][plan]": "shim-monthly-eur-1200"}
    )
    assert subscription["status"] == "active", subscription
    use_card(stripe, customer, current)
    _, invoice = stripe("POST", "invoices", customer=customer, subscription=subscription["id"])
    assert invoice["status"] == "draft", invoice
    return invoice


# --- SetupIntents ----------------------------------------------------------------------


def test_a_second_confirm_of_a_succeeded_setup_intent_is_refused_as_stripe_refuses_it(stripe):
    intent = setup_intent(stripe)
    assert confirm_card_setup(intent["client_secret"], CARD_OK)["status"] == "succeeded"

    again = confirm_card_setup(intent["client_secret"], CARD_OK)

    assert again["error"]["code"] == "setup_intent_unexpected_state"
    assert "already succeeded" in again["error"]["message"]
    _, stored = stripe("GET", f"setup_intents/{intent['id']}")
    assert stored["status"] == "succeeded"


def test_a_setup_intent_still_waiting_for_3d_secure_can_be_confirmed(stripe):
    intent = setup_intent(stripe)

    assert confirm_card_setup(intent["client_secret"], CARD_3DS)["status"] == "succeeded"


def test_a_card_declined_at_setup_leaves_the_setup_intent_waiting_for_another_card(stripe):
    intent = setup_intent(stripe)

    declined = confirm_card_setup(intent["client_secret"], CARD_DECLINED_AT_SETUP)
    assert declined["error"]["code"] == "card_declined"
    assert stripe("GET", f"setup_intents/{intent['id']}")[1]["status"] == "requires_payment_method"

    assert confirm_card_setup(intent["client_secret"], CARD_OK)["status"] == "succeeded"


# --- Stripe.js: the card entered in the page ------------------------------------------------


def new_card(localstripe, *, key: str | None, as_form: bool = False) -> requests.Response:
    """POST /v1/payment_methods as Stripe.js does (no Authorization header): the card, and
    `key` (if any) in the body."""
    card = {"number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    body = {"type": "card", "card": card}
    if key is not None:
        body["key"] = key
    if as_form:
        form = {
            "type": "card",
            "card[number]": CARD_OK,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
            **({"key": key} if key is not None else {}),
        }
        return requests.post(f"{localstripe}/v1/payment_methods", data=form, timeout=10)
    return requests.post(f"{localstripe}/v1/payment_methods", json=body, timeout=10)


@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
def test_a_card_is_made_with_the_publishable_key_as_stripe_js_makes_it(
    stripe, localstripe, as_form
):
    made = new_card(localstripe, key=settings.STRIPE_PUBLISHABLE_KEY, as_form=as_form)

    assert made.status_code == 200, made.text
    card = made.json()
    assert card["id"].startswith("pm_") and card["object"] == "payment_method"
    assert "key" not in card and card["customer"] is None
    status, stored = stripe("GET", f"payment_methods/{card['id']}")  # the server reads it back
    assert (status, stored["card"]["last4"]) == (200, "4242")
    assert stored["card"]["fingerprint"]


@pytest.mark.parametrize(
    "key", [None, "", "sk_test_in_the_body", "pk"], ids=["none", "empty", "secret", "not-a-key"]
)
def test_a_card_made_without_a_publishable_key_is_refused(localstripe, key):
    refused = new_card(localstripe, key=key)

    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Unauthorized"


def test_the_publishable_key_makes_cards_only(localstripe):
    """Every other call still wants the secret key, as on Stripe."""
    key = settings.STRIPE_PUBLISHABLE_KEY
    customer = requests.post(
        f"{localstripe}/v1/customers", json={"key": key, "email": "pk@example.org"}, timeout=10
    )
    card_id = create_payment_method(CARD_OK)
    read = requests.get(f"{localstripe}/v1/payment_methods/{card_id}?key={key}", timeout=10)

    assert (customer.status_code, read.status_code) == (401, 401)


def test_the_served_stripe_js_makes_cards_and_names_a_failed_3d_secure_check(localstripe):
    served = requests.get(f"{localstripe}/js.stripe.com/v3/", timeout=10)

    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/javascript")
    script = served.text
    assert "stripe.createPaymentMethod = async" in script
    assert "setup_intent_authentication_failure" in script
    assert "confirmCardPayment" in script  # localstripe's own script comes first, kept whole
    additions = Path(__file__).parent.joinpath("support", "localstripe_shim.js").read_text()
    assert script.endswith(additions)


# The served script run as a page runs it (node's fetch; a card Element's `value`, as
# localstripe's Element holds it): what createPaymentMethod answers, printed as JSON.
RUN_STRIPE_JS = """
const vm = require("vm");
const [base, key, number] = process.argv.slice(1);
(async () => {
  const src = base + "/js.stripe.com/v3/";
  const page = {
    document: {currentScript: {src: src}, getElementsByTagName: () => []},
    fetch: fetch, console: console,
  };
  vm.createContext(page);
  vm.runInContext(await (await fetch(src)).text(), page);
  const card = {value: {card: {number: number, exp_month: "12", exp_year: "2034", cvc: "123"},
                        postal_code: "75001"}};
  const made = await page.Stripe(key).createPaymentMethod(
    {type: "card", card: card, billing_details: {email: "page@example.org"}});
  console.log(JSON.stringify(made));
})();
"""


def stripe_js_create_payment_method(localstripe, key: str, number: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here to run the served Stripe.js")
    ran = subprocess.run(
        [node, "-e", RUN_STRIPE_JS, localstripe, key, number],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(ran.stdout.splitlines()[-1])  # after localstripe's own notice


def test_the_served_stripe_js_makes_the_card_entered_with_the_publishable_key(stripe, localstripe):
    made = stripe_js_create_payment_method(localstripe, settings.STRIPE_PUBLISHABLE_KEY, CARD_OK)

    card = made["paymentMethod"]
    assert card["id"].startswith("pm_")
    _, stored = stripe("GET", f"payment_methods/{card['id']}")
    assert stored["card"]["last4"] == "4242"
    assert stored["billing_details"]["email"] == "page@example.org"
    assert stored["billing_details"]["address"]["postal_code"] == "75001"  # from the Element


def test_the_served_stripe_js_answers_a_refused_card_with_an_error_not_a_card(localstripe):
    made = stripe_js_create_payment_method(localstripe, "sk_test_not_for_pages", CARD_OK)

    assert "paymentMethod" not in made
    assert made["error"]["message"] == "Unauthorized"


# --- Paying invoices on and off session --------------------------------------------------


@pytest.mark.parametrize("off_session", [None, "true", "false"], ids=["default", "off", "on"])
def test_an_invoice_paid_with_a_card_that_always_asks_for_3d_secure_waits_for_it(
    stripe, off_session
):
    customer = customer_with_card(stripe, CARD_3DS)
    invoice = renewal(stripe, customer)

    params = {} if off_session is None else {"off_session": off_session}
    status, answer = stripe("POST", f"invoices/{invoice['id']}/pay", **params)

    assert status == 402
    assert answer["error"]["type"] == "card_error"
    assert answer["error"]["code"] == "invoice_payment_intent_requires_action"
    _, invoice = stripe("GET", f"invoices/{invoice['id']}")
    assert invoice["status"] == "open"
    _, intent = stripe("GET", f"payment_intents/{invoice['payment_intent']}")
    assert intent["status"] == "requires_action"
    subscription = invoice["parent"]["subscription_details"]["subscription"]
    assert stripe("GET", f"subscriptions/{subscription}")[1]["status"] == "past_due"
    assert len(events_about(stripe, "invoice.payment_action_required", invoice["id"])) == 1
    assert len(events_about(stripe, "invoice.payment_failed", invoice["id"])) == 1


def test_a_declined_invoice_payment_answers_402_card_declined(stripe):
    customer = customer_with_card(stripe, CARD_DECLINED_ON_CHARGE)
    invoice = renewal(stripe, customer)

    status, answer = stripe("POST", f"invoices/{invoice['id']}/pay", off_session="false")

    assert (status, answer["error"]["code"]) == (402, "card_declined")
    assert stripe("GET", f"invoices/{invoice['id']}")[1]["status"] == "open"


@pytest.mark.parametrize(
    ("usage", "off_session", "paid"),
    [("off_session", "true", True), ("off_session", "false", False), ("on_session", "true", False)],
    ids=["set-up-and-away", "set-up-but-on-the-page", "set-up-for-on-session-only"],
)
def test_a_card_set_up_for_off_session_payments_is_charged_off_session_without_3d_secure(
    stripe, usage, off_session, paid
):
    _, customer = stripe("POST", "customers", email="set-up@example.org")
    intent = setup_intent(stripe, usage=usage, customer=customer["id"])
    assert confirm_card_setup(intent["client_secret"], CARD_SET_UP_ONCE)["status"] == "succeeded"
    use_card(
        stripe, customer["id"], stripe("GET", f"setup_intents/{intent['id']}")[1]["payment_method"]
    )
    invoice = renewal(stripe, customer["id"])

    status, _ = stripe("POST", f"invoices/{invoice['id']}/pay", off_session=off_session)

    assert (status == 200) is paid
    expected = "paid" if paid else "open"
    assert stripe("GET", f"invoices/{invoice['id']}")[1]["status"] == expected


def join_with_the_customers_card(stripe, customer: str) -> tuple[dict, dict]:
    """A member joins with the customer's card: the subscription, and its first invoice's
    PaymentIntent (the bank asks for 3-D Secure)."""
    stripe(
        "POST",
        "plans",
        id="shim-join-eur-900",
        amount=900,
        currency="eur",
        interval="month",
        **{"product[name]": "Shim"},
    )
    _, subscription = stripe(
        "POST", "subscriptions", customer=customer, **{"items[0][plan]": "shim-join-eur-900"}
    )
    _, invoice = stripe("GET", f"invoices/{subscription['latest_invoice']}")
    _, intent = stripe("GET", f"payment_intents/{invoice['payment_intent']}")
    assert intent["status"] == "requires_action", intent
    return subscription, intent


def first_payment_authenticated(stripe, customer: str) -> None:
    """A member joins with the customer's card, and passes 3-D Secure for the first invoice."""
    subscription, intent = join_with_the_customers_card(stripe, customer)
    assert confirm_card_payment(intent["client_secret"])["status"] == "succeeded"
    assert stripe("GET", f"subscriptions/{subscription['id']}")[1]["status"] == "active"


def one_off_payment_authenticated(stripe, customer: str) -> None:
    """A one-off payment (no invoice) with the customer's card, 3-D Secure passed."""
    card_id = stripe("GET", f"customers/{customer}")[1]["invoice_settings"][
        "default_payment_method"
    ]
    _, intent = stripe(
        "POST",
        "payment_intents",
        amount=900,
        currency="eur",
        customer=customer,
        payment_method=card_id,
        confirm="true",
    )
    assert intent["status"] == "requires_action", intent
    assert confirm_card_payment(intent["client_secret"])["status"] == "succeeded"


@pytest.mark.parametrize(
    ("authenticated", "renewed_away"),
    [(first_payment_authenticated, True), (one_off_payment_authenticated, False)],
    ids=["a-subscriptions-first-invoice", "a-one-off-payment"],
)
def test_3d_secure_passed_on_a_subscriptions_first_invoice_sets_the_card_up_for_renewals(
    stripe, authenticated, renewed_away
):
    customer = customer_with_card(stripe, CARD_SET_UP_ONCE)
    authenticated(stripe, customer)
    invoice = renewal(stripe, customer)

    status, answer = stripe("POST", f"invoices/{invoice['id']}/pay", off_session="true")

    if renewed_away:  # charged while the member is away, no 3-D Secure asked
        assert status == 200, answer
        assert stripe("GET", f"invoices/{invoice['id']}")[1]["status"] == "paid"
    else:  # a payment that was not a subscription's sets up nothing
        assert (status, answer["error"]["code"]) == (402, "invoice_payment_intent_requires_action")


def test_3d_secure_failed_on_a_subscriptions_first_invoice_sets_nothing_up(stripe):
    customer = customer_with_card(stripe, CARD_SET_UP_ONCE)
    card_id = stripe("GET", f"customers/{customer}")[1]["invoice_settings"][
        "default_payment_method"
    ]
    _, intent = join_with_the_customers_card(stripe, customer)
    confirm_card_payment(intent["client_secret"], authenticate=False)
    use_card(stripe, customer, card_id)  # the member tries the same card again later
    later = renewal(stripe, customer)

    status, answer = stripe("POST", f"invoices/{later['id']}/pay", off_session="true")

    assert (status, answer["error"]["code"]) == (402, "invoice_payment_intent_requires_action")


def test_an_unknown_parameter_to_pay_an_invoice_is_refused(stripe):
    invoice = renewal(stripe, customer_with_card(stripe, CARD_OK))

    status, _ = stripe("POST", f"invoices/{invoice['id']}/pay", payment_method_types="card")

    assert status == 400


# --- Balance transactions after the charge -------------------------------------------------


def test_a_charge_gets_its_balance_transaction_after_it_succeeds_with_a_charge_updated_event(
    stripe, localstripe
):
    customer = customer_with_card(stripe, CARD_OK)
    method = stripe("GET", f"customers/{customer}")[1]["invoice_settings"]["default_payment_method"]
    with charges_settle_later(localstripe):
        _, intent = stripe(
            "POST",
            "payment_intents",
            amount=2500,
            currency="eur",
            customer=customer,
            payment_method=method,
            confirm="true",
        )
        assert intent["status"] == "succeeded"
        charge_id = intent["charges"]["data"][0]["id"]
        assert stripe("GET", f"charges/{charge_id}")[1]["balance_transaction"] is None

    _, charge = stripe("GET", f"charges/{charge_id}")
    transaction = charge["balance_transaction"]
    assert transaction.startswith("txn_")
    (updated,) = events_about(stripe, "charge.updated", charge_id)
    assert updated["data"]["object"]["balance_transaction"] == transaction  # an id, unexpanded
    (paid,) = events_about(stripe, "payment_intent.succeeded", intent["id"])
    assert paid["data"]["object"]["charges"]["data"][0]["balance_transaction"] is None


def test_without_a_hold_a_charge_is_settled_before_the_next_request(stripe):
    customer = customer_with_card(stripe, CARD_OK)
    method = stripe("GET", f"customers/{customer}")[1]["invoice_settings"]["default_payment_method"]
    _, intent = stripe(
        "POST",
        "payment_intents",
        amount=700,
        currency="usd",
        customer=customer,
        payment_method=method,
        confirm="true",
    )

    charge_id = intent["charges"]["data"][0]["id"]
    assert stripe("GET", f"charges/{charge_id}")[1]["balance_transaction"].startswith("txn_")


# --- Listening on loopback only -------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_emulator_listens_on_loopback_only():
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system to read listening sockets from")
    port = free_port()
    with running_emulator(port):
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
        if socket.has_ipv6:
            with socket.socket(socket.AF_INET6) as ipv6, pytest.raises(OSError):
                ipv6.settimeout(2)
                ipv6.connect(("::1", port))  # localstripe alone would answer here too


@pytest.mark.filterwarnings("ignore:Bare functions are deprecated:DeprecationWarning")
def test_the_shim_socket_is_bound_to_127_0_0_1():
    from tests.support.localstripe_shim import listening_socket  # localstripe's app, unstarted

    with listening_socket(0) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
