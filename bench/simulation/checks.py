"""After the run: the ledger, the receipts, the memberships and the inbox against
what Stripe (the emulator) and the mail server hold. Every difference is listed.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Sum

from bench.simulation.journeys import Tally
from bench.simulation.mailbox import Mailbox
from bench.simulation.stripe_side import StripeSide
from members.models import GiftMembership, Membership
from members.states import FROM_STRIPE, GiftStatus, MembershipKind
from payments.models import Dispute, HourlyRevenue, Payment, Receipt, Refund, StripeEvent
from payments.services import revenue_rollup
from payments.states import EventStatus, RefundStatus

SHOWN = 8  # differences listed per check; the rest are counted


@dataclass
class Check:
    name: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def differs(self, problem: str) -> None:
        self.problems.append(problem)


@dataclass
class Totals:
    currency: str
    stripe_charged: int = 0
    ledger_charged: int = 0
    stripe_refunded: int = 0
    ledger_refunded: int = 0

    @property
    def ok(self) -> bool:
        return (self.stripe_charged, self.stripe_refunded) == (
            self.ledger_charged,
            self.ledger_refunded,
        )


@dataclass
class Report:
    totals: list[Totals]
    checks: list[Check]
    facts: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.totals) and all(c.ok for c in self.checks)


def run_checks(stripe: StripeSide, mail: Mailbox, tally: Tally) -> Report:
    charges = [c for c in stripe.list_all("charges") if c["status"] == "succeeded"]
    refunds = [r for r in stripe.list_all("refunds") if r.get("status") == "succeeded"]
    subscriptions = stripe.list_all("subscriptions", status="all")
    totals = _totals(charges, refunds)
    checks = [
        _charges_once(charges),
        _refunds_once(refunds, tally),
        _receipts(mail),
        _refund_notices(mail),
        _memberships(subscriptions),
        _gifts(tally),
        _welcomes(mail),
        _disputes(tally),
        _inbox(),
        _hourly_revenue(),
    ]
    facts = {
        "Stripe charges (succeeded)": len(charges),
        "Stripe refunds": len(refunds),
        "Stripe subscriptions": len(subscriptions),
        "ledger rows": Payment.objects.count(),
        "receipts": Receipt.objects.count(),
        "emails sent": len(mail.messages),
        "Stripe events stored": StripeEvent.objects.count(),
        "events ignored": StripeEvent.objects.filter(status=EventStatus.IGNORED).count(),
        "events that took more than one try": StripeEvent.objects.filter(attempts__gt=1).count(),
    }
    return Report(totals, checks, facts)


def _totals(charges: list[dict], refunds: list[dict]) -> list[Totals]:
    by_currency: dict[str, Totals] = {}

    def row(code: str) -> Totals:
        return by_currency.setdefault(code, Totals(code))

    for charge in charges:
        row(charge["currency"].upper()).stripe_charged += charge["amount"]
    for refund in refunds:
        row(refund["currency"].upper()).stripe_refunded += refund["amount"]
    ledger = Payment.objects.values("currency").annotate(
        charged=Sum("amount"), refunded=Sum("amount_refunded")
    )
    for line in ledger:
        row(line["currency"]).ledger_charged = line["charged"] or 0
        refunded = Refund.objects.filter(
            status=RefundStatus.SUCCEEDED, payment__currency=line["currency"]
        ).aggregate(total=Sum("amount"))["total"]
        if (refunded or 0) != (line["refunded"] or 0):
            row(line["currency"]).ledger_refunded = -1  # refunds and the rows' totals disagree
        else:
            row(line["currency"]).ledger_refunded = line["refunded"] or 0
    return sorted(by_currency.values(), key=lambda t: t.currency)


def _charges_once(charges: list[dict]) -> Check:
    check = Check("every Stripe charge is one ledger row, and every row a charge")
    in_stripe = {c["id"]: c for c in charges}
    ledger = dict(
        Payment.objects.filter(stripe_charge_id__isnull=False).values_list(
            "stripe_charge_id", "amount"
        )
    )
    check.checked = len(in_stripe)
    for charge_id, charge in in_stripe.items():
        if charge_id not in ledger:
            check.differs(
                f"{charge_id} ({charge['amount']} {charge['currency']}) not in the ledger"
            )
        elif ledger[charge_id] != charge["amount"]:
            check.differs(
                f"{charge_id}: {charge['amount']} in Stripe, {ledger[charge_id]} in ledger"
            )
    for charge_id in ledger.keys() - in_stripe.keys():
        check.differs(f"ledger row for {charge_id}, which Stripe has not (succeeded)")
    outside = Payment.objects.filter(stripe_charge_id__isnull=True).count()
    if outside:
        check.differs(f"{outside} ledger rows with no charge (none is paid outside Stripe here)")
    return check


def _refunds_once(refunds: list[dict], tally: Tally) -> Check:
    check = Check("every Stripe refund is one ledger refund; one per refund asked for")
    in_stripe = {r["id"]: r for r in refunds}
    ledger = {r.stripe_refund_id: r for r in Refund.objects.all()}
    check.checked = len(in_stripe)
    for refund_id, refund in in_stripe.items():
        kept = ledger.get(refund_id)
        if kept is None:
            check.differs(f"{refund_id} ({refund['amount']} on {refund['charge']}) not in ledger")
        elif (kept.amount, kept.status) != (refund["amount"], RefundStatus.SUCCEEDED):
            check.differs(f"{refund_id}: {refund['amount']} in Stripe, {kept.amount} {kept.status}")
    for refund_id in ledger.keys() - in_stripe.keys():
        check.differs(f"ledger refund {refund_id}, which Stripe has not")
    per_charge = Counter(r["charge"] for r in refunds)
    for charge_id, asked in tally.refunds_asked.items():
        if per_charge[charge_id] != asked:
            check.differs(f"{charge_id}: {asked} refunds asked for, {per_charge[charge_id]} made")
    return check


def _receipt_numbers(mail: Mailbox) -> Counter:
    found: Counter = Counter()
    for message in mail.messages:
        if "receipt" in message.subject.lower():
            number = re.search(r"\(([\w-]+)\)\s*$", message.subject)
            found[number.group(1) if number else message.subject] += 1
    return found


def _receipts(mail: Mailbox) -> Check:
    check = Check("one receipt row and one receipt email per ledger row")
    emailed = _receipt_numbers(mail)
    rows = Payment.objects.annotate(receipts=Count("receipt")).values_list("pk", "receipts")
    numbers = dict(Receipt.objects.values_list("payment_id", "number"))
    check.checked = len(rows)
    for pk, receipts in rows:
        if receipts != 1:
            check.differs(f"payment {pk} has {receipts} receipts")
            continue
        sent = emailed.pop(numbers[pk], 0)
        if sent != 1:
            check.differs(f"receipt {numbers[pk]} emailed {sent} times")
    for number, sent in emailed.items():
        check.differs(f"receipt email {number} ({sent}) for no ledger row")
    unsent = Receipt.objects.filter(sent_at__isnull=True).count()
    if unsent:
        check.differs(f"{unsent} receipts not marked sent")
    return check


def _emails_per_address(mail: Mailbox, subject_start: str) -> Counter:
    """How many emails whose subject starts so (any case) each address received."""
    return Counter(
        address
        for message in mail.messages
        if message.subject.lower().startswith(subject_start)
        for address in message.to
    )


def _refund_notices(mail: Mailbox) -> Check:
    check = Check("one refund notice email per refund")
    expected = Counter(
        Refund.objects.filter(status=RefundStatus.SUCCEEDED).values_list(
            "payment__donor__email", flat=True
        )
    )
    sent = _emails_per_address(mail, "your refund")
    check.checked = sum(expected.values())
    for address in expected.keys() | sent.keys():
        if expected[address] != sent[address]:
            check.differs(f"{address}: {expected[address]} refunds, {sent[address]} notices")
    return check


def _memberships(subscriptions: list[dict]) -> Check:
    check = Check("each membership's status is its Stripe subscription's")
    held = {
        m.stripe_subscription_id: m
        for m in Membership.objects.filter(
            kind=MembershipKind.PAID, stripe_subscription_id__isnull=False
        )
    }
    check.checked = len(subscriptions)
    for sub in subscriptions:
        membership = held.pop(sub["id"], None)
        expected = FROM_STRIPE.get(sub["status"])
        if membership is None:
            check.differs(f"{sub['id']} ({sub['status']}) has no membership")
        elif membership.status != expected:
            check.differs(
                f"{sub['id']}: {sub['status']} in Stripe, membership {membership.pk} "
                f"{membership.status}"
            )
    for sub_id, membership in held.items():
        check.differs(f"membership {membership.pk} names {sub_id}, which Stripe has not")
    return check


def _gifts(tally: Tally) -> Check:
    check = Check(
        "each gift membership bought is claimed, with a live membership (refunded: ended)"
    )
    gifts = GiftMembership.objects.filter(public_id__in=list(tally.claims)).select_related(
        "membership"
    )
    check.checked = len(tally.claims)
    found = {str(g.public_id): g for g in gifts}
    for public_id, recipient in tally.claims.items():
        gift = found.get(public_id)
        if gift is None or gift.status != GiftStatus.CLAIMED or gift.membership is None:
            status = gift.status if gift else "missing"
            check.differs(f"gift {public_id} for {recipient}: {status}")
        elif not gift.membership.has_perks:
            check.differs(f"gift {public_id}: membership {gift.membership.status}")
    refunded = GiftMembership.objects.filter(public_id__in=list(tally.refunded_gifts))
    check.checked += len(tally.refunded_gifts)
    for gift in refunded.select_related("membership"):
        if gift.status != GiftStatus.REFUNDED or (gift.membership and gift.membership.has_perks):
            check.differs(f"refunded gift {gift.public_id}: {gift.status}")
    if refunded.count() != len(tally.refunded_gifts):
        check.differs("a refunded gift is missing")
    return check


def _welcomes(mail: Mailbox) -> Check:
    check = Check("one welcome email per member welcomed")
    welcomed = Counter(
        Membership.objects.filter(welcomed_at__isnull=False).values_list("email", flat=True)
    )
    sent = _emails_per_address(mail, "welcome")
    check.checked = sum(welcomed.values())
    for address in welcomed.keys() | sent.keys():
        if welcomed[address] != sent[address]:
            check.differs(f"{address}: welcomed {welcomed[address]}, {sent[address]} emails")
    return check


def _disputes(tally: Tally) -> Check:
    check = Check("every dispute sent is recorded, on its payment, with its last status")
    kept = {d.stripe_dispute_id: d for d in Dispute.objects.select_related("payment")}
    check.checked = len(tally.disputes)
    for dispute_id, (charge_id, status) in tally.disputes.items():
        dispute = kept.get(dispute_id)
        if dispute is None:
            check.differs(f"{dispute_id} on {charge_id} ({status}) not recorded")
        elif dispute.payment.stripe_charge_id != charge_id or dispute.status != status:
            check.differs(f"{dispute_id}: {dispute.status} on {dispute.payment.stripe_charge_id}")
    return check


def _hourly_revenue() -> Check:
    check = Check("the dashboard's hourly sums equal the ledger's rows, summed again")

    def key(row: HourlyRevenue) -> tuple:
        return (row.hour, row.currency, row.kind, row.payments, row.gross, row.fees)

    kept = {key(row) for row in HourlyRevenue.objects.all()}
    should = {key(row) for row in revenue_rollup.summed_from_the_ledger()}
    check.checked = len(should)
    for row in sorted(kept ^ should):
        side = "kept, not in the ledger" if row in kept else "in the ledger, not kept"
        check.differs(f"{side}: {row}")
    return check


def _inbox() -> Check:
    check = Check("no Stripe event failed or pending")
    check.checked = StripeEvent.objects.count()
    stuck = defaultdict(list)
    for event in StripeEvent.objects.exclude(
        status__in=[EventStatus.PROCESSED, EventStatus.IGNORED]
    ):
        stuck[event.status].append(f"{event.type} {event.stripe_id}: {event.last_error[:200]}")
    for status, events in stuck.items():
        for line in events:
            check.differs(f"{status}: {line}")
    return check


# --- Printing ------------------------------------------------------------------------


def print_report(report: Report, money) -> None:
    print("\nLedger against Stripe, per currency")
    header = (
        f"  {'':4} {'charged: Stripe':>18} {'ledger':>14} {'refunded: Stripe':>18} {'ledger':>14}"
    )
    print(header)
    for t in report.totals:
        print(
            f"  {t.currency:4} {money(t.stripe_charged, t.currency):>18} "
            f"{money(t.ledger_charged, t.currency):>14} "
            f"{money(t.stripe_refunded, t.currency):>18} "
            f"{money(t.ledger_refunded, t.currency):>14}  {'ok' if t.ok else 'DIFFERS'}"
        )
    print("\nChecks")
    for check in report.checks:
        mark = "ok     " if check.ok else "DIFFERS"
        print(f"  {mark} {check.name} ({check.checked} checked)")
        for problem in check.problems[:SHOWN]:
            print(f"            - {problem}")
        if len(check.problems) > SHOWN:
            print(f"            ... and {len(check.problems) - SHOWN} more")
    print("\nCounts")
    for name, value in report.facts.items():
        print(f"  {value:>8}  {name}")
