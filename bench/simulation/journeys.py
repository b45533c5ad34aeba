"""Random reader lifecycles, driven through the site's pages as a browser would and
through Stripe.js's calls to Stripe, with staff in admin and Stripe's own side.

Each lifecycle draws from its own `random.Random(f"{seed}:{index}")`, so the seed
fixes what every reader does; the timing between them (threads, the chaos proxy)
still varies from run to run. Django must be set up before this module is imported:
lifecycles read a few ids from the site's database (what the page would have in
its URLs or Stripe.js would be handed).
"""

import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from queue import Queue

from django.utils import timezone

from bench.simulation.browser import (
    Browser,
    UnexpectedPage,
    field_value,
    sign_in,
    sign_in_by_code,
    sign_out,
    sign_up,
)
from bench.simulation.mailbox import Mailbox
from bench.simulation.stripe_side import PaidCharge, StripeSide
from members.models import Membership, User
from payments.models import Donation, Payment
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    confirm_card_setup,
    create_payment_method,
)

CURRENCIES = ("USD", "EUR", "GBP", "UAH")
ARTICLES = ("frontline-dispatch-winter", "energy-grid-repairs", "investigation-procurement")
CARDS = {"ok": CARD_OK, "3ds": CARD_3DS, "declined": CARD_DECLINED_ON_CHARGE}

# What share of the lifecycles is of each kind.
KINDS = {
    "one-time gift": 40,
    "membership": 30,
    "gift membership": 15,
    "abandoned gift": 10,
    "repeat donor": 5,
}


@dataclass
class Tally:
    """What happened, counted across threads; and what Stripe's side expects to find."""

    lifecycles: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    refunds_asked: Counter = field(default_factory=Counter)  # charge id -> refunds made
    disputes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (charge, status)
    claims: dict[str, str] = field(default_factory=dict)  # gift public id -> recipient email
    refunded_gifts: set[str] = field(default_factory=set)  # gift public ids refunds end
    late: list[Callable[[], None]] = field(default_factory=list)  # run after reconciliation
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, action: str, n: int = 1) -> None:
        with self._lock:
            self.actions[action] += n

    def expect_refund(self, charge_id: str) -> None:
        with self._lock:
            self.refunds_asked[charge_id] += 1


class StaffDesk:
    """A few staff browsers signed in to admin, each used by one lifecycle at a time."""

    def __init__(self, site: str, email: str, password: str, size: int = 3) -> None:
        self._free: Queue[Browser] = Queue()
        for n in range(size):
            browser = Browser(site, ip=f"10.255.0.{n + 1}")
            sign_in(browser, email, password)
            browser.page("/admin/")
            self._free.put(browser)

    @contextmanager
    def desk(self) -> Iterator[Browser]:
        browser = self._free.get()
        try:
            yield browser
        finally:
            self._free.put(browser)


@dataclass
class World:
    site: str
    seed: int
    stripe: StripeSide
    mail: Mailbox
    staff: StaffDesk
    tally: Tally
    stopping: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: start no more


@dataclass
class Reader:
    index: int
    email: str
    browser: Browser
    rng: random.Random


# --- Small steps ---------------------------------------------------------------------


def pause(rng: random.Random, low: float = 1.1, high: float = 2.0) -> None:
    """A reader's think time. Never under a second between two changes of the same
    Stripe object: Stripe's event clock counts whole seconds."""
    time.sleep(rng.uniform(low, high))


def pick_amount(rng: random.Random, currency: str) -> str:
    """A suggested amount or a typed one, in major units as a reader types it."""
    if currency == "UAH":
        units = rng.choice((200, 500, 1000)) if rng.random() < 0.6 else rng.randint(40, 4000)
    else:
        units = rng.choice((5, 10, 25, 50)) if rng.random() < 0.6 else rng.randint(1, 400)
    return f"{units}.{rng.choice((0, 0, 0, 50, 99)):02d}"


def major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def pick_card(rng: random.Random) -> str:
    return rng.choices(("ok", "3ds", "declined"), weights=(60, 22, 18))[0]


def settle(world: World, browser: Browser, url: str, *, card: str = "", double: bool = False):
    """The page's Patronage.settle: send the card entered (`card`, a PaymentMethod id, if
    any), then ask until paid, running 3-D Secure (once) when the bank asks."""
    step = None
    data = {"payment_method": card} if card else None
    for attempt in range(3):
        if double and attempt == 0:
            world.tally.count("double-clicks on pay")
            step = browser.double_click(url, data)
        else:
            step = browser.step(url, data)
        data = None
        if step.status in ("succeeded", "processing", "failed"):
            return step
        if step.status == "requires_action":
            world.tally.count("3-D Secure completed")
            time.sleep(1.1)  # the reader answers their bank: never within the same second
            confirm_card_payment(step.client_secret)
    return step


def pay(world: World, rng: random.Random, browser: Browser, url: str) -> str:
    """Enter a card (Stripe.js createPaymentMethod) and pay; a declined card is replaced
    by a good one. Returns the card in use at the end ("ok" or "3ds")."""
    card = pick_card(rng)
    world.tally.count(f"cards: {card}")
    entered = create_payment_method(CARDS[card])
    step = settle(world, browser, url, card=entered, double=rng.random() < 0.15)
    if step.status == "failed":
        if not step.another_card:
            raise UnexpectedPage(f"declined with no second chance: {step}")
        world.tally.count("declined, then another card")
        card = "ok"
        step = settle(world, browser, url, card=create_payment_method(CARD_OK))
    if step.status not in ("succeeded", "processing"):
        raise UnexpectedPage(f"payment ended {step}")
    return "3ds" if card == "3ds" else "ok"


def donation_intent(public_id: str) -> str:
    """The PaymentIntent of a paid gift (the site stored it before answering the page)."""
    return Donation.objects.get(public_id=public_id).stripe_payment_intent_id


# --- After a payment: refunds and disputes ----------------------------------------------


def after_payment(world: World, rng: random.Random, charge: PaidCharge, *, gift: str = "") -> bool:
    """Now and then a paid charge is refunded by staff or on Stripe's side, or disputed.
    For a gift membership's payment (`gift`: its public id), True when the refunds end
    the gift (refunded in full, or staff chose to end it)."""
    draw = rng.random()
    if draw < 0.10:
        return staff_refund(world, rng, charge, gift=gift)
    if draw < 0.16:
        return stripe_refund(world, rng, charge)
    if draw < 0.21:
        dispute(world, rng, charge)
    return False


def _refund_amounts(rng: random.Random, total: int) -> tuple[int, int]:
    """(first refund, a second one or 0): in full, or part and maybe the rest later."""
    if total < 2 or rng.random() < 0.5:
        return total, 0
    first = rng.randint(1, total - 1)
    return first, (total - first if rng.random() < 0.3 else 0)


def staff_refund(world: World, rng: random.Random, charge: PaidCharge, *, gift: str = "") -> bool:
    """Staff find the payment in admin and refund it (some submit the form twice), with a
    reason; for a gift membership's payment refunded in part, they choose whether the gift
    ends. True when the gift is to end."""
    try:
        payment = wait_until(
            lambda: Payment.objects.filter(stripe_charge_id=charge.id).first(), timeout=30
        )
    except AssertionError:
        world.tally.count("staff refunds skipped: not in the ledger yet")
        return False
    first, second = _refund_amounts(rng, charge.amount)
    ends_gift = bool(gift) and first + second == charge.amount
    for amount in (first, second):
        if not amount:
            continue
        pause(rng, 0.5, 1.5)
        double = rng.random() < 0.3
        with world.staff.desk() as desk:
            path = f"/admin/payments/payment/{payment.pk}/refund/"
            key = field_value(desk.page(path), "request_key")
            data = {
                "amount": major(amount),
                "request_key": key,
                "reason": rng.choice(("requested_by_customer", "duplicate", "fraudulent")),
                "note": "Asked by phone",
            }
            if gift and amount < charge.amount:
                end = rng.random() < 0.3
                data["end_gift"] = "yes" if end else "no"
                ends_gift = ends_gift or end
            if double:
                with ThreadPoolExecutor(max_workers=2) as both:
                    answers = list(both.map(desk.form, [path, path], [data, data]))
            else:
                answers = [desk.form(path, data)]
        if not any(a.status_code == 302 for a in answers):
            raise UnexpectedPage(f"admin refund {charge.id}: {[a.status_code for a in answers]}")
        world.tally.expect_refund(charge.id)
        kind = "in full" if amount == charge.amount else "in part"
        world.tally.count(f"staff refunds {kind}" + (", form sent twice" if double else ""))
    return ends_gift


def stripe_refund(world: World, rng: random.Random, charge: PaidCharge) -> bool:
    """Someone refunds in Stripe's dashboard; Stripe tells us with events. True when the
    charge ends refunded in full."""
    first, second = _refund_amounts(rng, charge.amount)
    for amount in (first, second):
        if amount:
            pause(rng, 0.2, 1.5)
            world.stripe.refund(charge, amount)
            world.tally.expect_refund(charge.id)
            kind = "in full" if amount == charge.amount else "in part"
            world.tally.count(f"refunds on Stripe's side {kind}")
    return first + second == charge.amount


def dispute(world: World, rng: random.Random, charge: PaidCharge) -> None:
    """A chargeback: half of them arrive before the payment's own events."""
    if rng.random() < 0.5:
        world.tally.count("disputes sent before the payment's events")
    else:
        pause(rng, 2, 5)
    opened = world.stripe.dispute(charge, status="needs_response")
    final = "needs_response"
    if rng.random() < 0.6:
        pause(rng)
        final = rng.choice(("won", "lost"))
        world.stripe.dispute(charge, status=final, dispute=opened)
    world.tally.count(f"disputes ending {final}")
    with world.tally._lock:
        world.tally.disputes[opened["id"]] = (charge.id, final)


# --- One-time gifts --------------------------------------------------------------------


def give_once(world: World, reader: Reader, *, email: str | None = None) -> None:
    rng, browser = reader.rng, reader.browser
    currency, article = rng.choice(CURRENCIES), rng.choice(ARTICLES)
    browser.page(f"/give/?from={article}&utm_source=sim&campaign=seed-{world.seed}")
    data = {
        "amount": pick_amount(rng, currency),
        "currency": currency,
        "email": email or reader.email,
        "name": f"Reader {reader.index}",
        "source": article,
        "utm_source": "sim",
        "campaign": f"seed-{world.seed}",
    }
    if rng.random() < 0.5:
        data["cover_fees"] = "on"
        world.tally.count("gifts with the card fee covered")
    status, started = browser.call("/give/start", data)
    if status != 200:
        raise UnexpectedPage(f"/give/start: {status} {started}")
    pay(world, rng, browser, started["payUrl"])
    world.tally.count(f"one-time gifts in {currency}")
    charge = world.stripe.paid_charge(donation_intent(started["donation"]), "one-time")
    browser.page(started["thanksUrl"])
    after_payment(world, rng, charge)


def one_time_gift(world: World, reader: Reader) -> None:
    give_once(world, reader)


def repeat_donor(world: World, reader: Reader) -> None:
    """Gives twice, the second time typing the address in other letters: one donor."""
    give_once(world, reader)
    pause(reader.rng)
    give_once(world, reader, email=reader.email.upper())


def abandoned_gift(world: World, reader: Reader) -> None:
    """Starts a gift (sometimes enters the card) and never pays."""
    rng, browser = reader.rng, reader.browser
    currency = rng.choice(CURRENCIES)
    browser.page("/give/")
    data = {"amount": pick_amount(rng, currency), "currency": currency, "email": reader.email}
    status, started = browser.call("/give/start", data)
    if status != 200:
        raise UnexpectedPage(f"/give/start: {status} {started}")
    if rng.random() < 0.5:
        create_payment_method(CARD_OK)


# --- Memberships -----------------------------------------------------------------------


@dataclass
class Member:
    subscription: str
    customer: str
    card: str  # "ok" or "3ds": the default card renewals are charged to
    status: str = "active"  # as the member last saw it: active, past_due, ended
    cancelling: bool = False


def join(world: World, reader: Reader, *, guest: bool = False) -> Member:
    """Join on the one page: signed in, or as a guest giving their email."""
    rng, browser = reader.rng, reader.browser
    currency = rng.choice(CURRENCIES)
    interval = rng.choice(("month", "month", "year"))
    browser.page(f"/join/?interval={interval}&from={rng.choice(ARTICLES)}")
    data = {"amount": pick_amount(rng, currency), "currency": currency, "interval": interval}
    if guest:
        data["email"] = reader.email
    status, started = browser.call("/join/start", data)
    if status != 200:
        raise UnexpectedPage(f"/join/start: {status} {started}")
    card = pay(world, rng, browser, started["confirmUrl"])
    world.tally.count(f"joined {interval}ly in {currency}")
    membership = Membership.objects.select_related("donor").get(public_id=started["membership"])
    member = Member(membership.stripe_subscription_id, membership.donor.stripe_customer_id, card)
    browser.page(started["welcomeUrl"])
    subscription = world.stripe.subscription_updated(member.subscription)
    invoice = world.stripe.api("GET", f"invoices/{subscription['latest_invoice']}")
    after_payment(world, rng, world.stripe.paid_charge(invoice["payment_intent"], "membership"))
    return member


def update_card(world: World, reader: Reader, member: Member) -> bool:
    """The member saves a new card at /account/card/; a past-due renewal is paid with it."""
    rng, browser = reader.rng, reader.browser
    browser.page("/account/card/")
    card = rng.choice(("ok", "ok", "3ds"))
    status, started = browser.call("/account/card/start")
    if status != 200:
        raise UnexpectedPage(f"/account/card/start: {status} {started}")
    confirm_card_setup(started["setupClientSecret"], CARDS[card])
    step = settle(world, browser, "/account/card/finish")
    if step.status != "succeeded":
        raise UnexpectedPage(f"card update ended {step}")
    member.card = card
    world.tally.count(f"cards updated ({card})")
    return True


def confirm_renewal(world: World, reader: Reader) -> None:
    """From the "confirm your payment" email: the page runs 3-D Secure for the renewal."""
    reader.browser.page("/account/confirm-payment/")
    step = settle(world, reader.browser, "/account/confirm-payment/settle")
    if step.status != "succeeded":
        raise UnexpectedPage(f"confirming a renewal ended {step}")
    world.tally.count("renewals confirmed with 3-D Secure")


# How the member is told about a renewal that did not go through, by outcome.
TOLD = {"declined": "did not go through", "action": "please confirm"}


def renew(world: World, reader: Reader, member: Member) -> None:
    """Stripe renews; the card may have changed under the member since."""
    rng, stripe = reader.rng, world.stripe
    draw = rng.random()
    if draw < 0.25:
        stripe.switch_card(member.customer, member.subscription, CARD_DECLINED_ON_CHARGE)
        member.card = "declined"
    elif draw < 0.40:
        stripe.switch_card(member.customer, member.subscription, CARD_3DS)
        member.card = "3ds"
    told_before = {s: len(world.mail.to(reader.email, s)) for s in TOLD.values()}
    outcome, invoice = stripe.renew(member.subscription)
    world.tally.count(f"renewals: {outcome}")
    if outcome == "paid":
        if invoice.get("payment_intent"):  # else a change's credit paid all of it
            after_payment(world, rng, stripe.paid_charge(invoice["payment_intent"], "membership"))
        return
    member.status = "past_due"
    subject = TOLD[outcome]
    try:
        world.mail.wait_for(reader.email, subject, count=told_before[subject] + 1, timeout=30)
    except TimeoutError:  # its event was lost: the member does not know yet
        world.tally.count("renewal emails not there in 30 s (event lost until reconciliation)")
        return
    pause(rng)
    if outcome == "declined" and rng.random() < 0.3:
        stripe.give_up(member.subscription)
        member.status = "ended"
        world.tally.count("Stripe gave up after a declined renewal")
        return
    if outcome == "action" and rng.random() < 0.7:
        confirm_renewal(world, reader)
    else:
        update_card(world, reader, member)
    paid = stripe.invoice_settled(member.subscription)
    if paid is not None:
        member.status = "active"
        after_payment(world, rng, stripe.paid_charge(paid["payment_intent"], "membership"))


def change(world: World, reader: Reader, member: Member) -> None:
    """A new amount, or (with a card that needs nothing) the other interval, charged today."""
    rng, browser = reader.rng, reader.browser
    page = browser.page("/account/membership/change/")
    amount = field_value(page, "amount")
    interval = "month" if 'value="month" selected' in page else "year"
    switch = member.card == "ok" and member.status == "active" and rng.random() < 0.4
    if switch:
        interval = "year" if interval == "month" else "month"
    else:
        amount = f"{float(amount) + rng.choice((1, 2, 5, 10, -1)):.2f}"
    response = browser.form("/account/membership/change/", {"amount": amount, "interval": interval})
    if response.status_code != 302:
        world.tally.count("changes refused by the form")
        return
    world.tally.count("interval switches" if switch else "amount changes")
    if switch:
        paid = world.stripe.invoice_settled(member.subscription)
        # With proration (MEMBERSHIP_PRORATION) the credit may pay the whole invoice.
        if paid is not None and paid.get("payment_intent"):
            after_payment(
                world, rng, world.stripe.paid_charge(paid["payment_intent"], "membership")
            )
    else:
        world.stripe.subscription_updated(member.subscription)


def cancel_and_maybe_resume(world: World, reader: Reader, member: Member) -> None:
    rng, browser = reader.rng, reader.browser
    browser.page("/account/membership/cancel/")
    response = browser.form("/account/membership/cancel/", {"reason": "Trying to save money"})
    if response.status_code != 302:
        raise UnexpectedPage(f"cancel: {response.status_code}")
    world.tally.count("cancellations at period end")
    member.cancelling = True
    world.stripe.subscription_updated(member.subscription)
    if rng.random() < 0.5:
        pause(rng)
        browser.page("/account/")
        response = browser.form("/account/membership/resume/", {})
        if response.status_code != 302:
            raise UnexpectedPage(f"resume: {response.status_code}")
        member.cancelling = False
        world.tally.count("resumed before the end")
        world.stripe.subscription_updated(member.subscription)


def membership(world: World, reader: Reader) -> None:
    rng, browser = reader.rng, reader.browser
    guest = rng.random() < 0.35
    if not guest:
        sign_up(browser, reader.email, world.mail)
        if rng.random() < 0.3:
            sign_out(browser)
            sign_in_by_code(browser, reader.email, world.mail)
            world.tally.count("signed in by code")
    member = join(world, reader, guest=guest)
    if guest:
        # Their account comes with the first payment; they sign in with an emailed code.
        wait_until(lambda: User.objects.filter(email=reader.email).exists(), timeout=60)
        sign_in_by_code(browser, reader.email, world.mail)
        world.tally.count("joined as guests, then signed in by code")
    for _ in range(rng.randint(0, 4)):
        if member.status == "ended":
            break
        pause(rng)
        action = rng.choices(("renew", "change", "cancel"), weights=(55, 25, 20))[0]
        if action == "renew" and member.status == "active" and not member.cancelling:
            renew(world, reader, member)
        elif action == "change" and not member.cancelling and member.status != "ended":
            change(world, reader, member)
        elif action == "cancel" and not member.cancelling and member.status != "ended":
            cancel_and_maybe_resume(world, reader, member)
    ending = member.cancelling or member.status == "past_due"
    if member.status != "ended" and ending and rng.random() < 0.6:
        pause(rng)  # the period ends (or Stripe's retries run out)
        world.stripe.give_up(member.subscription)
        world.tally.count("subscriptions ended by Stripe")
    browser.page("/account/")


# --- Gift memberships ------------------------------------------------------------------


def gift_membership(world: World, reader: Reader) -> None:
    """A guest buys months of membership for someone, who claims it with an account."""
    rng, browser = reader.rng, reader.browser
    recipient = reader.email.replace("reader", "friend")
    currency = rng.choice(CURRENCIES)
    browser.page("/gift/")
    data = {
        "months": str(rng.choice((1, 3, 6, 12))),
        "currency": currency,
        "email": reader.email,
        "name": f"Giver {reader.index}",
        "recipient_email": recipient,
        "recipient_name": f"Friend {reader.index}",
        "message": "Happy reading & see you soon!",
        "send_on": timezone.localdate().isoformat(),
    }
    if rng.random() < 0.3:  # more than the standard price (5 a month; 200 in UAH)
        monthly = 200 if currency == "UAH" else 5
        data["amount"] = f"{int(data['months']) * monthly * rng.choice((2, 3)) + 1}.00"
    status, started = browser.call("/gift/start", data)
    if status != 200:
        raise UnexpectedPage(f"/gift/start: {status} {started}")
    pay(world, rng, browser, started["payUrl"])
    world.tally.count(f"gift memberships bought in {currency}")
    donation = started["payUrl"].split("/")[2]
    charge = world.stripe.paid_charge(donation_intent(donation), "gift membership")
    browser.page(started["thanksUrl"])
    if after_payment(world, rng, charge, gift=started["gift"]):
        # Refunded: the gift ends (staff's choice or in full) and can no longer be claimed.
        with world.tally._lock:
            world.tally.refunded_gifts.add(started["gift"])
        world.tally.count("gift memberships refunded before they were claimed")
        return
    with world.tally._lock:
        world.tally.claims[started["gift"]] = recipient
    friend = Browser(world.site, ip=f"10.128.{reader.index // 250}.{reader.index % 250 + 1}")
    by_code = rng.random() < 0.3

    def claim(timeout: float) -> None:
        (invite,) = world.mail.wait_for(recipient, "gave you", timeout=timeout)
        path = "/gift/claim/" + invite.text.split("/gift/claim/", 1)[1].split("/", 1)[0] + "/"
        friend.page(path)
        sign_up(friend, recipient, world.mail)
        if by_code:
            sign_out(friend)
            sign_in_by_code(friend, recipient, world.mail)
            world.tally.count("signed in by code")
        friend.page(path)
        response = friend.form(path, {})
        if response.status_code != 302:
            raise UnexpectedPage(f"claim: {response.status_code}")
        world.tally.count("gift memberships claimed")

    try:
        claim(timeout=30)
    except TimeoutError:  # the payment's event was lost: the invite goes after reconciliation
        world.tally.count("gift invites not there in 30 s (claimed after reconciliation)")
        with world.tally._lock:
            world.tally.late.append(lambda: claim(timeout=120))


LIFECYCLES: dict[str, Callable[[World, Reader], None]] = {
    "one-time gift": one_time_gift,
    "membership": membership,
    "gift membership": gift_membership,
    "abandoned gift": abandoned_gift,
    "repeat donor": repeat_donor,
}


def plan(n: int, seed: int) -> list[str]:
    """Which kind each of the n lifecycles is: fixed by the seed."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    return rng.choices(kinds, weights=[KINDS[k] for k in kinds], k=n)


def run(world: World, kinds: list[str], *, threads: int) -> None:
    """Run every lifecycle on a small pool of threads; an error ends that lifecycle only."""

    def one(index: int, kind: str) -> None:
        if world.stopping.is_set():
            return
        email = f"reader{index:05d}.s{world.seed}@example.org"
        ip = f"10.{index // 62500}.{index // 250 % 250}.{index % 250 + 1}"
        reader = Reader(
            index, email, Browser(world.site, ip=ip), random.Random(f"{world.seed}:{index}")
        )
        try:
            LIFECYCLES[kind](world, reader)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            with world.tally._lock:
                world.tally.errors.append(f"#{index} {kind}: {detail[:500]}")
        finally:
            with world.tally._lock:
                world.tally.lifecycles[kind] += 1
                done = sum(world.tally.lifecycles.values())
            if done % 100 == 0:
                print(f"  {done} lifecycles done", flush=True)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reader") as pool:
        try:
            for future in [pool.submit(one, i, kind) for i, kind in enumerate(kinds)]:
                future.result()
        except BaseException:  # Ctrl-C: the lifecycles under way end, no new one starts
            world.stopping.set()
            raise


def run_late(world: World) -> None:
    """What had to wait for reconciliation (claims of gifts whose invite came late)."""
    for task in world.tally.late:
        try:
            task()
        except Exception as exc:
            world.tally.errors.append(f"late: {''.join(traceback.format_exception_only(exc))}")
