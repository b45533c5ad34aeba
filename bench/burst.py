"""A burst of signed events through ingest and the worker's 2 processes: all stored, all
processed exactly once, the processing rate against a no-op task's, and how long
receipts waited meanwhile.

1. The no-op rate: a few hundred no-op tasks (bench/worker.py) warm the worker; then,
   with the worker stopped (SIGSTOP), N are published; it goes on (SIGCONT) and the
   clock runs until the queue is empty.
2. The gifts: N one-time gifts paid at the emulator (a PaymentIntent confirmed with a
   test card, so its charge and fee exist when the handler reads them; the emulator's
   own deliveries paused meanwhile, the time it takes reported) and stored in the
   bench's database as the donation page leaves them (a donor each, status processing).
3. The burst: their `payment_intent.succeeded` events (bench/events.py), each signed just
   before it is sent, POSTed to /stripe/webhook over as many connections as wrk uses,
   while the worker processes them (a spike as Stripe sends it). A non-200 answer is
   sent again, as Stripe retries, and counted.
4. The books once the queue is drained: every event stored once and processed; one
   ledger row, one receipt sent once and one email per gift; every gift succeeded.
   Rate: N / (last event processed - first event received), from the database's
   timestamps; the worker's CPU time (its process group's, bench/cpu.py) per event
   and per no-op task beside, which holds better on a busy machine. Receipts: how long
   each waited once made (`sent_at - created_at`: the target, a receipt must not wait
   behind the backlog of events), and from its event received to it sent (which
   includes the event's own place in the backlog).
"""

import asyncio
import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from bench import events, queues
from bench.context import Bench
from bench.cpu import group_cpu_seconds
from bench.report import Row

RATE_TARGET, NOOP_SHARE_TARGET = 300.0, 0.25
RECEIPT_DELAY_TARGET = 10.0  # seconds: a receipt goes out while the backlog drains
EMAIL_PREFIX = "bench-burst-"
NOOP_WARMUP = 300
AMOUNT = 2500


@dataclass(frozen=True)
class Sent:
    event_ids: list[str]
    intent_of: dict[str, str]  # event id -> PaymentIntent id
    seconds: float
    retried: int
    refused: Counter


# --- 1. The no-op yardstick ---------------------------------------------------------


def noop_rate(bench: Bench, count: int) -> float:
    """Tasks/s the worker's 2 processes get through when the task does nothing."""
    from bench.worker import app, noop

    stack = bench.stack
    for _ in range(NOOP_WARMUP):
        noop.delay()
    queues.wait_idle(stack, timeout=60)
    with queues.worker_paused(stack):
        with app.producer_or_acquire() as producer:
            for _ in range(count):
                noop.apply_async(producer=producer)
        start = time.monotonic()
    while queues.waiting(stack):
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    queues.wait_idle(stack, timeout=60)
    return count / elapsed


# --- 2. Gifts paid at the emulator and stored ---------------------------------------


def _emulator_session(bench: Bench) -> requests.Session:
    session = requests.Session()
    session.auth = (bench.stack.secret_key, "")
    return session


def pay_at_emulator(bench: Bench, count: int, currency: str) -> list[tuple[str, str]]:
    """(PaymentIntent id, charge id) of `count` card payments made at the emulator."""
    base = bench.stack.emulator
    session = _emulator_session(bench)
    card = {
        "type": "card",
        **{"card[number]": "4242424242424242", "card[exp_month]": "12"},
        **{"card[exp_year]": "2034", "card[cvc]": "123"},
    }
    method = session.post(f"{base}/v1/payment_methods", data=card, timeout=30)
    method.raise_for_status()
    params = {
        "amount": str(AMOUNT),
        "currency": currency.lower(),
        "payment_method": method.json()["id"],
        "confirm": "true",
    }

    def pay(_: int) -> tuple[str, str]:
        answer = session.post(f"{base}/v1/payment_intents", data=params, timeout=30)
        answer.raise_for_status()
        intent = answer.json()
        latest = intent.get("latest_charge") or intent["charges"]["data"][0]
        return intent["id"], latest if isinstance(latest, str) else latest["id"]

    session.post(f"{base}/_config/sim/webhooks", json={"paused": True}, timeout=10)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(pay, range(count)))
    finally:
        session.post(f"{base}/_config/sim/webhooks", json={"paused": False}, timeout=10)


def store_gifts(paid: list[tuple[str, str]], currency: str, run: str) -> list[events.Gift]:
    """A donor and a gift awaiting its payment's event for each payment made."""
    from payments.models import Donation, Donor
    from payments.states import DonationStatus, PaymentKind

    donors = Donor.objects.bulk_create(
        Donor(email=f"{EMAIL_PREFIX}{run}-{n}@example.org", name=f"Burst reader {n}")
        for n in range(len(paid))
    )
    donations = Donation.objects.bulk_create(
        Donation(
            donor=donor,
            name=donor.name,
            amount=AMOUNT,
            currency=currency,
            kind=PaymentKind.ONE_TIME,
            status=DonationStatus.PROCESSING,
            stripe_payment_intent_id=intent_id,
            attempts=1,
            article_slug="bench-burst",
        )
        for donor, (intent_id, _) in zip(donors, paid, strict=True)
    )
    return [
        events.Gift(str(d.public_id), intent_id, charge_id, AMOUNT, currency)
        for d, (intent_id, charge_id) in zip(donations, paid, strict=True)
    ]


# --- 3. The burst ----------------------------------------------------------------------


async def _post_all(url: str, secret: str, gifts: list[events.Gift], connections: int, run: str):
    import aiohttp

    event_ids = [f"evt_bench{run}_{n:06d}" for n in range(len(gifts))]
    intent_of = {}
    refused: Counter = Counter()
    retried = 0
    pending = asyncio.Queue()
    for event_id, gift in zip(event_ids, gifts, strict=True):
        event = events.gift_succeeded(gift)
        event["id"] = event_id
        intent_of[event_id] = gift.intent_id
        pending.put_nowait((event, 0))

    async def sender(session):
        nonlocal retried
        while not pending.empty():
            event, tries = pending.get_nowait()
            header, body = events.signed(event, secret)  # signed now: 300 s tolerance
            headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
            try:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
            if status != 200:
                refused[str(status)] += 1
                if tries < 5:
                    retried += 1
                    await asyncio.sleep(0.5 * (tries + 1))
                    pending.put_nowait((event, tries + 1))

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.monotonic()
        await asyncio.gather(*(sender(session) for _ in range(connections)))
        seconds = time.monotonic() - start
    return Sent(event_ids, intent_of, seconds, retried, refused)


def send_burst(bench: Bench, gifts: list[events.Gift], run: str) -> Sent:
    return asyncio.run(
        _post_all(
            bench.url("/stripe/webhook"),
            bench.stack.webhook_secret,
            gifts,
            bench.load.connections,
            run,
        )
    )


# --- 4. Drained, and the books ---------------------------------------------------------


def _done_counts(run: str) -> tuple[int, int]:
    from payments.models import Receipt, StripeEvent
    from payments.states import EventStatus

    finished = StripeEvent.objects.filter(
        stripe_id__startswith=f"evt_bench{run}_",
        status__in=(EventStatus.PROCESSED, EventStatus.IGNORED),
    ).count()
    sent = Receipt.objects.filter(
        email__startswith=f"{EMAIL_PREFIX}{run}-", sent_at__isnull=False
    ).count()
    return finished, sent


def wait_processed(bench: Bench, count: int, run: str, *, stall: float) -> bool:
    """Every event finished and every receipt sent; False once nothing moved for `stall` s."""
    last, moved = None, time.monotonic()
    while True:
        bench.stack.check_alive()
        done = _done_counts(run)
        if done == (count, count):
            return True
        if done != last:
            last, moved = done, time.monotonic()
        elif time.monotonic() - moved > stall:
            return False
        time.sleep(1)


def books(bench: Bench, sent: Sent, run: str) -> dict:
    from django.db.models import Max, Min

    from payments.models import Donation, Payment, Receipt, StripeEvent
    from payments.states import DonationStatus

    prefix = f"{EMAIL_PREFIX}{run}-"
    stored = StripeEvent.objects.filter(stripe_id__startswith=f"evt_bench{run}_")
    span = stored.aggregate(first=Min("received_at"), last=Max("processed_at"))
    received = dict(stored.values_list("stripe_id", "received_at"))
    receipts = {
        intent: (created, sent_at)
        for intent, created, sent_at in Receipt.objects.filter(email__startswith=prefix)
        .values_list("payment__stripe_payment_intent_id", "created_at", "sent_at")
        .iterator()
    }
    waits = [  # the receipt made (its event processed) to the receipt sent
        (sent_at - created).total_seconds()
        for created, sent_at in receipts.values()
        if sent_at is not None
    ]
    end_to_end = [  # the event received to its receipt sent
        (receipts[intent][1] - received[event_id]).total_seconds()
        for event_id, intent in sent.intent_of.items()
        if event_id in received and receipts.get(intent, (None, None))[1] is not None
    ]
    mails = Counter(
        to for mail in list(bench.stack.mail.messages) for to in mail.to if to.startswith(prefix)
    )
    return {
        "stored": stored.count(),
        "statuses": Counter(stored.values_list("status", flat=True)),
        "payments": Payment.objects.filter(donor__email__startswith=prefix).count(),
        "receipts": Receipt.objects.filter(email__startswith=prefix).count(),
        "receipts_sent": len(waits),
        "sent_twice": Receipt.objects.filter(email__startswith=prefix, times_sent__gt=1).count(),
        "emails": sum(mails.values()),
        "emailed_twice": sum(1 for n in mails.values() if n > 1),
        "succeeded": Donation.objects.filter(
            donor__email__startswith=prefix, status=DonationStatus.SUCCEEDED
        ).count(),
        "seconds": (
            (span["last"] - span["first"]).total_seconds()
            if span["first"] and span["last"]
            else None
        ),
        "waits": waits,
        "end_to_end": end_to_end,
    }


def _worker_cpu(bench: Bench) -> float | None:
    return group_cpu_seconds(bench.stack.processes["worker"].pid)


def _per_item_ms(after: float | None, before: float | None, items: int) -> float | None:
    return None if after is None or before is None or not items else (after - before) * 1000 / items


def _cpu_note(ms: float | None, what: str) -> str:
    return "" if ms is None else f"; worker CPU {ms:.1f} ms {what}"


def _stripe_calls(bench: Bench, start: float, end: float) -> str:
    """How many calls the site made to Stripe (the emulator) meanwhile, and how long they
    took at the proxy: what the handlers waited on Stripe."""
    proxy = bench.stack.api_proxy
    calls = [e - s for s, e in getattr(proxy, "calls", []) if start <= s <= end]
    if not calls:
        return "no call to Stripe while the burst was processed"
    return (
        f"{len(calls):,} calls to Stripe while it was processed, {sum(calls):.1f} s in all "
        f"(p50 {statistics.median(calls) * 1000:.1f} ms, worst {max(calls) * 1000:.0f} ms)"
    )


def run_burst(bench: Bench) -> None:
    from payments.currencies import default_currency

    count = bench.options["burst_events"]
    run = uuid.uuid4().hex[:6]
    currency = default_currency().code
    report = bench.report

    cpu_before = _worker_cpu(bench)
    noop = noop_rate(bench, count)
    noop_cpu = _per_item_ms(_worker_cpu(bench), cpu_before, count + NOOP_WARMUP)
    start = time.monotonic()
    paid = pay_at_emulator(bench, count, currency)
    gifts = store_gifts(paid, currency, run)
    report.notes.append(
        f"burst: {count:,} gifts paid at the emulator and stored in "
        f"{time.monotonic() - start:.0f} s before the burst (not timed)"
    )
    queues.wait_idle(bench.stack, timeout=120)
    burst_start, cpu_before = time.perf_counter(), _worker_cpu(bench)
    sent = send_burst(bench, gifts, run)
    drained = wait_processed(bench, count, run, stall=bench.options["burst_stall"])
    event_cpu = _per_item_ms(_worker_cpu(bench), cpu_before, count)
    b = books(bench, sent, run)
    report.notes.append(f"burst: {_stripe_calls(bench, burst_start, time.perf_counter())}")

    statuses = ", ".join(f"{n} {s}" for s, n in sorted(b["statuses"].items()))
    once = (
        b["stored"]
        == b["payments"]
        == b["receipts"]
        == b["receipts_sent"]
        == b["emails"]
        == b["succeeded"]
        == b["statuses"].get("processed", 0)
        == count
        and not b["sent_twice"]
        and not b["emailed_twice"]
    )
    report.add(
        Row(
            f"burst of {count:,} events: stored, processed once",
            f"{b['stored']:,} stored ({statuses}); {b['payments']:,} ledger rows, "
            f"{b['receipts_sent']:,}/{b['receipts']:,} receipts sent, {b['emails']:,} emails "
            f"({b['emailed_twice']} twice); {b['succeeded']:,} gifts succeeded; ingest "
            f"{count / sent.seconds:,.0f}/s, {sent.retried} re-sent",
            target="all, each once",
            met=once,
        )
    )
    if not once:
        report.fail(f"burst: events lost, unprocessed or done twice (drained: {drained})")
    if sent.refused:
        report.notes.append(f"burst: ingest refused {dict(sent.refused)} (sent again)")

    rate = count / b["seconds"] if b["seconds"] else 0.0
    share = rate / noop if noop else None
    report.add(
        Row(
            "event processing, 2 worker processes",
            f"{rate:,.0f} events/s ({b['seconds'] or 0:.1f} s first received to last "
            f"processed{_cpu_note(event_cpu, 'an event and its receipt')})",
            f"no-op task: {noop:,.0f}/s{_cpu_note(noop_cpu, 'a task')}",
            share,
            f">= {RATE_TARGET:.0f}/s and >= {NOOP_SHARE_TARGET:.2f}",
            rate >= RATE_TARGET and share is not None and share >= NOOP_SHARE_TARGET,
        )
    )
    waits, end_to_end = b["waits"], b["end_to_end"]
    report.add(
        Row(
            "receipt wait while the backlog drains",
            (
                f"worst {max(waits):.1f} s, p50 {statistics.median(waits):.1f} s from receipt "
                f"made to sent ({len(waits):,} receipts); event received to receipt sent: "
                f"worst {max(end_to_end):.1f} s, p50 {statistics.median(end_to_end):.1f} s"
                if waits and end_to_end
                else "no receipt sent"
            ),
            target=f"<= {RECEIPT_DELAY_TARGET:.0f} s made to sent",
            met=bool(waits) and max(waits) <= RECEIPT_DELAY_TARGET,
        )
    )
