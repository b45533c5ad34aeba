"""Build a large, realistic revenue data set fast, to measure the admin at scale.

    manage.py generate_revenue_data --payments 1000000 --members 100000 --seed 1

Members (accounts, donors, paid memberships monthly and yearly in several currencies,
some past due, churned ones cancelled with a reason, some that never paid, a few
subscriptions created outside this site, comp and gift memberships), guests who give
once, one-time gifts with spikes on "big news" days, the ledger with fees, refunds
(full and partial), disputes, receipts, the Stripe events inbox and unpaid gifts; a few
hundred articles and a few campaigns that gifts are attributed to.

Rows are written as the services would have left them, but directly: PostgreSQL's COPY
(other databases: batched INSERTs), in time order, without signals, Stripe or emails.
Every Stripe id carries `gen` (`cus_gen...`, `pi_gen...`, `evt_gen...`); readers' emails
end in `@readers.example`; `--clear` deletes exactly what an earlier run wrote. The same
`--seed` builds the same data (times are relative to now). Refuses to run with DEBUG off
unless `--force`: never on a production database by accident.
"""

import bisect
import json
import math
import random
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from content.models import Article, Campaign, CampaignContribution, GoalKind
from members.models import GiftMembership, LevelAmount, Membership, MembershipLevel, User
from members.states import (
    GIFT_MONTHS,
    CancelReason,
    GiftStatus,
    Interval,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from payments.currencies import ZERO_DECIMAL_CURRENCIES
from payments.models import (
    Dispute,
    Donation,
    Donor,
    HourlyRevenue,
    Payment,
    Receipt,
    Refund,
    StripeEvent,
)
from payments.services import revenue_rollup
from payments.states import (
    CLOSED_DISPUTE_STATUSES,
    DisputeStatus,
    DonationStatus,
    EventStatus,
    PaymentKind,
    RefundStatus,
)
from payments.stripe_gateway.errors import DECLINED

EMAIL_DOMAIN = "readers.example"  # every generated reader's address ends with it
ARTICLE_HOST = "https://newsroom.example/"  # every generated article's URL starts with it
CAMPAIGN_PREFIX = "gen-"  # every generated campaign's slug starts with it
GEN = "gen"  # in every generated Stripe id, after its prefix: pi_gen..., cus_gen...

DAY = 86400.0
MONTH = 30 * DAY  # a renewal every 30 days, as the demo data has it
YEAR = 365 * DAY

_FIRST_NAMES = (
    "Anna Ben Carla Daniel Elena Farid Grace Hugo Ines Jonas Kateryna Liam Mira Nils Olga "
    "Pavel Rosa Sam Tetiana Uma Viktor Wendy Yusuf Zoe Adam Bianca Chen Dmytro Eva Felix "
    "Gabriel Hanna Ivan Julia Karim Lena Marco Nora Oscar Petra Quentin Rita Stefan Tomas "
    "Ursula Vera Walter Ximena Yara Zofia Amir Beatriz Colm Daria Emil Freya Goran Hiro"
)
FIRST_NAMES = _FIRST_NAMES.split()
_LAST_NAMES = (
    "Kowalski Okafor Mendes Weiss Petrenko Haddad Lin Martin Garcia Berg Bilyk Murphy "
    "Novak Larsen Shevchenko Dvorak Bianchi Taylor Koval Patel Horvat Clarke Demir Fischer "
    "Nowak Rossi Silva Jensen Moreau Schmidt Kim Tanaka Brown Lopez Müller Dubois Ivanova "
    "Nagy Popescu Kaya Costa Hansen Smith Lee Wilson Walsh Byrne Sato Singh Ahmed Cohen"
)
LAST_NAMES = _LAST_NAMES.split()
_TOPICS = (
    "city council budget hospital water school housing police election court port "
    "railway energy farm river forest mine factory bank pension tax border museum "
    "stadium airport bridge prison clinic university market tram ferry landfill"
)
TOPICS = _TOPICS.split()
_ANGLES = (
    "investigation inquiry leak vote scandal deal delay crisis plan audit report review "
    "contract ruling protest closure shortage subsidy fraud lawsuit"
)
ANGLES = _ANGLES.split()
SECTIONS = ["Politics", "City", "Business", "Environment", "Investigations", "Culture", "Health"]
CAMPAIGN_NAMES = ["Spring appeal", "Summer drive", "Autumn appeal", "Winter appeal"]
UTM_SOURCES = ["newsletter", "facebook", "twitter", "telegram", "instagram", "podcast"]
REFUND_REASONS = ["requested_by_customer", "requested_by_customer", "duplicate", "fraudulent"]
DISPUTE_REASONS = [
    "fraudulent",
    "product_not_received",
    "subscription_canceled",
    "duplicate",
    "unrecognized",
    "general",
]
DISPUTE_STATUSES = {  # weights
    DisputeStatus.NEEDS_RESPONSE: 12,
    DisputeStatus.UNDER_REVIEW: 13,
    DisputeStatus.WARNING_NEEDS_RESPONSE: 3,
    DisputeStatus.WARNING_CLOSED: 5,
    DisputeStatus.WON: 37,
    DisputeStatus.LOST: 28,
    DisputeStatus.PREVENTED: 2,
}
CANCEL_REASONS = {  # weights; "" = no reason given
    CancelReason.TOO_EXPENSIVE: 30,
    CancelReason.READING_LESS: 20,
    CancelReason.COVERAGE: 8,
    CancelReason.OTHER_WAY: 10,
    CancelReason.OTHER: 10,
    CancelReason.STAFF: 2,
    "": 20,
}
CURRENCY_WEIGHTS = {"USD": 12, "EUR": 4, "GBP": 2}  # others: 1
# Amounts are written for USD/EUR/GBP; other currencies multiply them.
CURRENCY_FACTOR = {"UAH": 20.0, "SEK": 10.0, "NOK": 10.0, "PLN": 4.0, "CZK": 20.0}
MONTHLY_AMOUNTS = ([500, 1000, 2000], [6, 3, 1])  # (choices, weights), minor units
YEARLY_AMOUNTS = ([5000, 10000, 20000], [5, 4, 1])
GIFT_AMOUNTS = ([500, 1000, 2500, 5000, 10000, 25000], [20, 30, 25, 15, 8, 2])
GIFT_MEMBERSHIP_PRICE = {1: 1000, 3: 2800, 6: 5400, 12: 10000}

# Shares, tuned so a run looks like a newsroom a few years in.
MEMBERSHIP_SHARE = 0.62  # of the payments, at most: renewals of memberships
KIND_SHARES = {MembershipKind.PAID: 0.93, MembershipKind.COMP: 0.02, MembershipKind.GIFT: 0.05}
PAID_STATUSES = {  # weights of a paid membership's fate
    MembershipStatus.ACTIVE: 68,
    MembershipStatus.PAST_DUE: 3,
    MembershipStatus.UNPAID: 1,
    MembershipStatus.CANCELED: 24,
    MembershipStatus.EXPIRED: 4,
}
YEARLY_SHARE = 0.15
FOREIGN_SHARE = 0.03  # subscriptions created in Stripe's dashboard, not on this site
GUEST_SHARE = 0.75  # of one-time gifts, given without an account
REPEAT_GUEST_SHARE = 0.3  # of guests' gifts, by a guest who gave before
UNPAID_DONATIONS = 0.08  # gifts started and never paid, per one-time payment
FEE_COVER_SHARE = 0.3
SPIKE_SHARE = 0.12  # of one-time gifts, on a "big news" day
SPIKE_DAYS_PER_YEAR = 10
ARTICLE_SHARE = 0.30
CAMPAIGN_SHARE = 0.25  # of gifts and joins while a campaign runs (~5% of all)
UTM_SHARE = 0.35
REFUND_SHARE = 0.02
PARTIAL_REFUND_SHARE = 0.2
DISPUTE_SHARE = 0.002
OUTSIDE_STRIPE_SHARE = 0.001  # invoices marked paid by cheque or transfer


def fee(amount: int) -> int:
    """Stripe's card fee, about 2.9% + 30 minor units."""
    return min(amount, round(amount * 0.029) + 30)


def weighted(rng: random.Random, table: dict) -> object:
    return rng.choices(list(table), weights=list(table.values()))[0]


def stamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Writer:
    """Writes rows (tuples in a given column order) fast: COPY on PostgreSQL, batched
    INSERTs elsewhere. Columns left out get the field's default (or NULL), so a field
    added to a model later does not break the generator; ids are given explicitly."""

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"
        self.written: dict[str, int] = {}
        self.models: list[type[models.Model]] = []

    def next_id(self, model: type[models.Model]) -> int:
        top = model.objects.aggregate(top=models.Max("pk"))["top"]
        return (top or 0) + 1

    def write(self, model: type[models.Model], columns: list[str], rows: Iterable[tuple]) -> int:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise CommandError(f"{model.__name__} has no columns {sorted(unknown)}")
        fill: list[tuple[str, Callable[[], object]]] = []
        now = timezone.now()
        for name, field in fields.items():
            if name in columns:
                continue
            if field.has_default():
                default = field.default
                fill.append((name, default if callable(default) else (lambda d=default: d)))
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                fill.append((name, lambda: now))
            elif field.null:
                fill.append((name, lambda: None))
            else:
                raise CommandError(f"{model.__name__}.{name} needs a value: the generator lacks it")
        names = list(columns) + [name for name, _ in fill]
        makers = [make for _, make in fill]
        if makers:
            rows = (row + tuple(make() for make in makers) for row in rows)
        table = connection.ops.quote_name(model._meta.db_table)
        column_list = ", ".join(connection.ops.quote_name(fields[n].column) for n in names)
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            if self.postgresql:
                with cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                converters = [self._converter(fields[n]) for n in names]
                marks = ", ".join(["%s"] * len(names))
                sql = f"INSERT INTO {table} ({column_list}) VALUES ({marks})"  # noqa: S608
                batch: list[tuple] = []
                for row in rows:
                    batch.append(
                        tuple(c(v) if c else v for c, v in zip(converters, row, strict=True))
                    )
                    if len(batch) >= 5000:
                        cursor.executemany(sql, batch)
                        count += len(batch)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)
                    count += len(batch)
        self.written[model._meta.label] = self.written.get(model._meta.label, 0) + count
        if model not in self.models:
            self.models.append(model)
        return count

    @staticmethod
    def _converter(field: models.Field) -> Callable[[object], object] | None:
        if isinstance(field, models.DateTimeField):
            return lambda v: connection.ops.adapt_datetimefield_value(v)
        if isinstance(field, models.DateField):
            return lambda v: connection.ops.adapt_datefield_value(v)
        if isinstance(field, models.UUIDField):
            return lambda v: v.hex if v is not None else None
        return None

    def reset_sequences(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), self.models)
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class Command(BaseCommand):
    help = (
        "Build a large, realistic revenue data set (members, donors, ledger, refunds, "
        "disputes, receipts, events, articles, campaigns) fast, for benchmarks."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--payments", type=int, default=100_000, help="ledger rows")
        parser.add_argument("--members", type=int, default=10_000, help="memberships")
        parser.add_argument("--seed", type=int, default=1, help="the same seed, the same data")
        parser.add_argument("--years", type=int, default=3, help="how far back the data goes")
        parser.add_argument(
            "--currencies", default="USD,EUR,GBP,UAH", help="comma-separated, USD first"
        )
        parser.add_argument(
            "--events",
            type=int,
            default=None,
            help="Stripe events in the inbox (default: a fifth of the payments)",
        )
        parser.add_argument(
            "--no-receipts", action="store_true", help="leave out receipts (one per payment)"
        )
        parser.add_argument(
            "--clear", action="store_true", help="first delete what an earlier run wrote"
        )
        parser.add_argument(
            "--clear-only", action="store_true", help="delete what an earlier run wrote, stop"
        )
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (never in production)"
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this may be a production database. Refusing to write invented "
                "data; pass --force if you are sure."
            )
        started = time.monotonic()
        if options["clear"] or options["clear_only"]:
            self.stdout.write("Deleting previously generated data...")
            deleted = clear_generated()
            revenue_rollup.rebuild()
            self.stdout.write(f"  deleted {deleted} rows ({time.monotonic() - started:.1f} s)")
            if options["clear_only"]:
                return
        currencies = [c.strip().upper() for c in options["currencies"].split(",") if c.strip()]
        if not currencies or any(len(c) != 3 or not c.isalpha() for c in currencies):
            raise CommandError("--currencies: three-letter codes separated by commas")
        if options["payments"] < 1 or options["members"] < 0 or options["years"] < 1:
            raise CommandError("--payments >= 1, --members >= 0 and --years >= 1")
        if Donor.objects.filter(stripe_customer_id__startswith=f"cus_{GEN}").exists():
            raise CommandError("Generated data is already there: add --clear to replace it.")
        generator = Generator(
            seed=options["seed"],
            payments=options["payments"],
            members=options["members"],
            years=options["years"],
            currencies=currencies,
            events=options["events"],
            receipts=not options["no_receipts"],
            say=self._say,
        )
        generator.run()
        self.stdout.write(
            self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s: ")
            + ", ".join(f"{n} {label}" for label, n in generator.writer.written.items())
        )

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()


class Generator:
    """One run: draws everything from one seeded random generator, then writes it."""

    def __init__(
        self,
        *,
        seed: int,
        payments: int,
        members: int,
        years: int,
        currencies: list[str],
        events: int | None,
        receipts: bool,
        say: Callable[[str], None],
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (invented data, not secrets)
        self.target_payments = payments
        self.members = members
        self.currencies = currencies
        self.events = payments // 5 if events is None else events
        self.receipts = receipts
        self.say = say
        self.writer = Writer()
        self.now = time.time()
        self.span = years * YEAR
        self.begin = self.now - self.span
        self.clock = time.monotonic()
        self.currency_weights = [CURRENCY_WEIGHTS.get(c, 1) for c in currencies]

    # --- helpers -------------------------------------------------------------------------

    def step(self, message: str) -> None:
        now = time.monotonic()
        self.say(f"  {message} ({now - self.clock:.1f} s)")
        self.clock = now

    def new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def currency(self) -> str:
        return self.rng.choices(self.currencies, weights=self.currency_weights)[0]

    def scaled(self, amount: int, currency: str) -> int:
        factor = CURRENCY_FACTOR.get(currency, 1.0)
        if currency in ZERO_DECIMAL_CURRENCIES:
            factor *= 1.5  # e.g. 500 cents -> 750 yen
        return max(1, int(round(amount * factor, -1 if factor > 1 else 0)))

    def recent_time(self, skew: float = 1.3) -> float:
        """A time in the span, more often recent (the newsroom grows)."""
        return self.now - self.span * self.rng.random() ** skew

    def attribution(self, ts: float) -> tuple:
        """(article_slug, campaign, utm_source, utm_medium, utm_campaign, utm_content,
        utm_term, referrer) as a reader's link would have given them at `ts`."""
        rng = self.rng
        slug = campaign = source = medium = utm_campaign = referrer = ""
        if rng.random() < ARTICLE_SHARE:
            slug = self.article_before(ts)
            if slug and rng.random() < 0.6:
                referrer = f"{ARTICLE_HOST}{slug}/"
        running = self.campaign_at(ts)
        if running and rng.random() < CAMPAIGN_SHARE:
            campaign = running
        if rng.random() < UTM_SHARE:
            source = rng.choice(UTM_SOURCES)
            medium = "email" if source == "newsletter" else "social"
            utm_campaign = campaign or rng.choice(["", "", "weekly", "breaking"])
        return (slug, campaign, source, medium, utm_campaign, "", "", referrer)

    def article_before(self, ts: float) -> str:
        """A recent article published before `ts` (gifts follow what people read)."""
        index = bisect.bisect_right(self.article_times, ts) - 1
        if index < 0:
            return ""
        index -= min(index, int(self.rng.expovariate(1 / 15)))
        return self.article_slugs[index]

    def campaign_at(self, ts: float) -> str:
        for slug, start, end in self.campaign_windows:
            if start <= ts < end:
                return slug
        return ""

    def person(self, n: int) -> tuple[str, str]:
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        last = LAST_NAMES[(n // len(FIRST_NAMES) + n * 7) % len(LAST_NAMES)]
        local = f"{first}.{last}.{n}".lower().replace("ü", "u")
        return f"{first} {last}", f"{local}@{EMAIL_DOMAIN}"

    # --- the run -------------------------------------------------------------------------

    def run(self) -> None:
        self.say(
            f"Generating ~{self.target_payments} payments, {self.members} memberships, "
            f"{self.events} events over {self.span / YEAR:.0f} years "
            f"({connection.vendor}):"
        )
        self.levels_and_content()
        self.plan_memberships()
        self.plan_gifts()
        self.plan_one_time()
        self.write_people()
        self.write_memberships()
        self.write_donations()
        self.write_payments()
        self.write_refunds_and_disputes()
        if self.receipts:
            self.write_receipts()
        self.write_events()
        self.finish()

    def levels_and_content(self) -> None:
        rng = self.rng
        levels = list(MembershipLevel.objects.order_by("position", "pk"))
        if not levels:
            for position, (slug, name) in enumerate(
                [("supporter", "Supporter"), ("insider", "Insider"), ("champion", "Champion")]
            ):
                level = MembershipLevel.objects.create(name=name, slug=slug, position=position)
                levels.append(level)
                for currency in self.currencies:
                    for interval, table in (
                        (Interval.MONTH, MONTHLY_AMOUNTS),
                        (Interval.YEAR, YEARLY_AMOUNTS),
                    ):
                        LevelAmount.objects.create(
                            level=level,
                            currency=currency,
                            interval=interval,
                            amount=self.scaled(table[0][position], currency),
                        )
        self.level_ids = [level.pk for level in levels]

        # Articles: a few hundred over the span; "big news" days get one each.
        spikes = max(1, int(SPIKE_DAYS_PER_YEAR * self.span / YEAR))
        count = max(spikes + 20, min(300, self.target_payments // 3000))
        first_id = self.writer.next_id(Article)
        spike_days = sorted(self.begin + rng.random() * self.span for _ in range(spikes))
        times = sorted(
            [self.begin + rng.random() * self.span for _ in range(count - spikes)]
            + [day - 2 * 3600 for day in spike_days]
        )
        self.article_times = times
        self.article_slugs = []
        rows = []
        for n, ts in enumerate(times):
            topic, angle = rng.choice(TOPICS), rng.choice(ANGLES)
            slug = f"{topic}-{angle}-{n + first_id}"
            self.article_slugs.append(slug)
            title = f"The {topic} {angle}: what we found"
            rows.append(
                (
                    first_id + n,
                    slug,
                    title,
                    f"{ARTICLE_HOST}{slug}/",
                    rng.choice(SECTIONS),
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    stamp(ts),
                    f"What the {topic} {angle} means for the city.",
                    f"<p>Our reporting on the {topic} {angle}.</p>",
                    "",
                    stamp(ts - 3600),
                    stamp(ts),
                )
            )
        self.writer.write(
            Article,
            [
                "id",
                "slug",
                "title",
                "url",
                "section",
                "author",
                "published_at",
                "summary",
                "body",
                "member_notes",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        # Each big-news day: the article published that morning.
        self.spikes = [
            (day, self.article_slugs[bisect.bisect_left(times, day - 2 * 3600)])
            for day in spike_days
        ]

        # Campaigns: one a season lately, six weeks each.
        self.campaign_windows = []
        campaigns = []
        for n in range(min(6, max(2, int(self.span / YEAR) * 2))):
            start = self.now - (n + 0.7) * YEAR / 2 * rng.uniform(0.9, 1.0)
            end = start + 42 * DAY
            name = f"{CAMPAIGN_NAMES[n % len(CAMPAIGN_NAMES)]} {stamp(start):%Y}"
            slug = f"{CAMPAIGN_PREFIX}{name.lower().replace(' ', '-')}-{n}"
            money = n % 2 == 1
            campaigns.append(
                Campaign(
                    name=name,
                    slug=slug,
                    goal_kind=GoalKind.MONEY if money else GoalKind.MEMBERS,
                    goal=5_000_000 if money else 500,
                    currency=self.currencies[0] if money else "",
                    starts_at=stamp(start),
                    ends_at=stamp(end),
                )
            )
            self.campaign_windows.append((slug, start, end))
        Campaign.objects.bulk_create(campaigns)
        self.step(f"{len(levels)} levels, {count} articles, {len(campaigns)} campaigns")

    def plan_memberships(self) -> None:
        """Draw each membership's fate, then fit how far back they start so that their
        renewals fill about MEMBERSHIP_SHARE of the payments."""
        rng = self.rng
        n = self.members
        kinds = rng.choices(list(KIND_SHARES), weights=list(KIND_SHARES.values()), k=n)
        self.m_kind = kinds
        self.m_u = [rng.random() for _ in range(n)]
        self.m_status = [
            weighted(rng, PAID_STATUSES) if kind == MembershipKind.PAID else None for kind in kinds
        ]
        self.m_yearly = [rng.random() < YEARLY_SHARE for _ in range(n)]
        # Periods paid before churning (if the membership's fate is to churn)
        self.m_life = [
            1 + int(rng.expovariate(1 / 1.2 if yearly else 1 / 7)) for yearly in self.m_yearly
        ]
        target = int(self.target_payments * MEMBERSHIP_SHARE)
        low, high = 0.6, 60.0
        skew = low
        if self._renewals(low) > target:
            for _ in range(30):
                skew = (low + high) / 2
                if self._renewals(skew) > target:
                    low = skew
                else:
                    high = skew
            skew = high
        self.skew = skew
        self.m_start = [self.now - self.span * u**skew for u in self.m_u]
        self.step(f"planned {n} memberships (start skew {skew:.2f})")

    def _renewals(self, skew: float) -> int:
        total = 0
        for kind, u, status, yearly, life in zip(
            self.m_kind, self.m_u, self.m_status, self.m_yearly, self.m_life, strict=True
        ):
            if kind == MembershipKind.PAID:
                age = self.span * u**skew
                total += self._payments_of(status, age / (YEAR if yearly else MONTH), life)
        return total

    @staticmethod
    def _payments_of(status: str, periods: float, life: int) -> int:
        """Payments of a paid membership `periods` old, by its fate."""
        started = int(periods) + 1  # period starts so far, the first included
        if status == MembershipStatus.EXPIRED:
            return 0
        if status == MembershipStatus.CANCELED:
            return min(life, started)
        if status in (MembershipStatus.PAST_DUE, MembershipStatus.UNPAID) and started > 1:
            return started - 1
        return started

    def plan_gifts(self) -> None:
        """Gift memberships bought: the claimed ones are the gift-kind memberships; some
        more were paid and not claimed yet, and a few never paid."""
        rng = self.rng
        self.gifts = []  # (bought_ts, months, membership index or None, status)
        for index, kind in enumerate(self.m_kind):
            if kind == MembershipKind.GIFT:
                months = rng.choice(GIFT_MONTHS)
                claimed = self.m_start[index]
                self.gifts.append((claimed - rng.uniform(0.1, 20) * DAY, months, index, "c"))
        claimed = len(self.gifts)
        for _ in range(claimed // 4 + 1):
            bought = self.now - rng.uniform(0.1, 40) * DAY
            self.gifts.append((bought, rng.choice(GIFT_MONTHS), None, "p"))
        for _ in range(claimed // 10):
            self.gifts.append((self.recent_time(), rng.choice(GIFT_MONTHS), None, "u"))
        self.gifts.sort()
        self.step(f"planned {len(self.gifts)} gift memberships")

    def plan_one_time(self) -> None:
        rng = self.rng
        memberships = sum(
            self._payments_of(status, (self.now - start) / (YEAR if yearly else MONTH), life)
            for kind, start, status, yearly, life in zip(
                self.m_kind, self.m_start, self.m_status, self.m_yearly, self.m_life, strict=True
            )
            if kind == MembershipKind.PAID
        )
        self.membership_payments = memberships
        gifts_paid = sum(1 for gift in self.gifts if gift[3] != "u")
        count = max(0, self.target_payments - memberships - gifts_paid)
        if count == 0:
            self.say(
                f"  note: {self.members} memberships make {memberships} payments by "
                f"themselves; ask for fewer members for more one-time gifts"
            )
        # (ts, guest or None, amount, currency, fee_cover) per one-time gift
        self.one_time = []
        next_guest = 0
        for _ in range(count):
            if rng.random() < SPIKE_SHARE and self.spikes:
                day, _slug = rng.choice(self.spikes)
                ts = min(self.now - 60, day + rng.expovariate(1 / (8 * 3600)))
            else:
                ts = self.recent_time()
            guest = None
            if rng.random() < GUEST_SHARE:
                if next_guest and rng.random() < REPEAT_GUEST_SHARE:
                    guest = rng.randrange(next_guest)
                else:
                    guest, next_guest = next_guest, next_guest + 1
            currency = self.currency()
            if rng.random() < 0.1:
                amount = rng.randrange(3, 300) * 100
            else:
                amount = rng.choices(*GIFT_AMOUNTS)[0]
            amount = self.scaled(amount, currency)
            cover = fee(amount) if rng.random() < FEE_COVER_SHARE else 0
            self.one_time.append((ts, guest, amount, currency, cover))
        self.guests = max(1, next_guest)
        self.one_time.sort()
        self.step(
            f"planned {memberships} renewals, {gifts_paid} gift and {count} one-time payments"
        )

    # --- writing -------------------------------------------------------------------------

    def write_people(self) -> None:
        """Users (one per membership), then donors: members who pay and guests."""
        rng = self.rng
        w = self.writer
        self.user_base = w.next_id(User)
        n = self.members
        self.m_user: list[int | None] = []
        rows = []
        for index in range(n):
            name, email = self.person(index)
            user_id = self.user_base + index
            # Some subscriptions made in Stripe's dashboard belong to no account here.
            if self.m_kind[index] == MembershipKind.PAID and rng.random() < FOREIGN_SHARE / 2:
                self.m_user.append(None)
                continue
            self.m_user.append(user_id)
            rows.append(
                (
                    user_id,
                    "!generated",
                    None,
                    False,
                    email,
                    name if rng.random() < 0.8 else "",
                    False,
                    True,
                    stamp(self.m_start[index] - rng.uniform(0, 3) * DAY),
                    rng.random() < 0.05,
                )
            )
        w.write(
            User,
            [
                "id",
                "password",
                "last_login",
                "is_superuser",
                "email",
                "display_name",
                "is_staff",
                "is_active",
                "date_joined",
                "on_supporters_wall",
            ],
            rows,
        )
        self.step(f"{len(rows)} users")
        del rows

        # Donors: paid members first (index = membership), then guests.
        self.donor_base = w.next_id(Donor)
        self.m_donor: list[int | None] = [None] * n
        donor_rows = []
        self.donor_emails: list[str] = []
        self.donor_names: list[str] = []
        self.donor_users: list[int | None] = []
        member_donors: list[int] = []
        for index in range(n):
            if self.m_kind[index] != MembershipKind.PAID:
                continue
            donor_id = self.donor_base + len(self.donor_emails)
            name, email = self.person(index)
            self.m_donor[index] = donor_id
            member_donors.append(donor_id)
            self.donor_emails.append(email)
            self.donor_names.append(name)
            self.donor_users.append(self.m_user[index])
            donor_rows.append((donor_id, email, name, self.m_user[index], self.m_start[index]))
        self.member_donors = member_donors
        self.guest_base = self.donor_base + len(self.donor_emails)
        first_gift = [math.inf] * self.guests
        for ts, guest, *_ in self.one_time:
            if guest is not None and ts < first_gift[guest]:
                first_gift[guest] = ts
        for guest in range(self.guests):
            name, email = self.person(n + guest)
            donor_id = self.guest_base + guest
            self.donor_emails.append(email)
            self.donor_names.append(name)
            self.donor_users.append(None)
            first = first_gift[guest] if first_gift[guest] < math.inf else self.recent_time()
            donor_rows.append((donor_id, email, name if rng.random() < 0.9 else "", None, first))
        self.all_donors = len(self.donor_emails)
        w.write(
            Donor,
            ["id", "email", "name", "user_id", "stripe_customer_id", "created_at"],
            (
                (d, email, name, user, f"cus_{GEN}{d:09d}", stamp(ts - 60))
                for d, email, name, user, ts in donor_rows
            ),
        )
        self.step(f"{len(donor_rows)} donors ({self.guests} guests)")

    def donor_for_gift(self, guest: int | None) -> int:
        if guest is not None or not self.member_donors:
            return self.guest_base + (guest if guest is not None else 0)
        return self.rng.choice(self.member_donors)

    def write_memberships(self) -> None:
        rng = self.rng
        w = self.writer
        self.membership_base = w.next_id(Membership)
        gift_of = {gift[2]: gift for gift in self.gifts if gift[2] is not None}
        self.m_attr = []
        self.m_amount = []
        self.m_currency = []
        self.m_payments = []  # payments per membership (paid ones)
        rows = []
        for index in range(self.members):
            kind = self.m_kind[index]
            start = self.m_start[index]
            _name, email = self.person(index)
            attr = self.attribution(start) if kind == MembershipKind.PAID else ("",) * 8
            self.m_attr.append(attr)
            amount = currency = interval = None
            status = MembershipStatus.ACTIVE
            origin = MembershipOrigin.SITE
            level = None
            period_end = ends_at = ended_at = welcomed = None
            cancel_category = cancel_reason = note = failed_invoice = subscription = ""
            cancel_at_period_end = False
            payments = 0
            if kind == MembershipKind.PAID:
                yearly = self.m_yearly[index]
                period = YEAR if yearly else MONTH
                currency = self.currency()
                table = YEARLY_AMOUNTS if yearly else MONTHLY_AMOUNTS
                tier = rng.choices(range(3), weights=table[1])[0]
                amount = self.scaled(table[0][tier], currency)
                level = self.level_ids[min(tier, len(self.level_ids) - 1)]
                interval = Interval.YEAR if yearly else Interval.MONTH
                status = self.m_status[index]
                if rng.random() < FOREIGN_SHARE:
                    origin = MembershipOrigin.STRIPE
                subscription = f"sub_{GEN}{self.membership_base + index:09d}"
                periods = (self.now - start) / period
                payments = self._payments_of(status, periods, self.m_life[index])
                if status == MembershipStatus.EXPIRED:
                    ended_at = start + 23 * 3600
                elif status == MembershipStatus.CANCELED:
                    last = start + (payments - 1) * period
                    ended_at = min(self.now - 60, last + rng.uniform(0.1, 1.0) * period)
                    cancel_category = weighted(rng, CANCEL_REASONS)
                    if cancel_category and rng.random() < 0.3:
                        cancel_reason = "Money is tight this year."
                elif status in (MembershipStatus.PAST_DUE, MembershipStatus.UNPAID):
                    period_end = start + payments * period
                    failed_invoice = f"in_{GEN}fail{self.membership_base + index:09d}"
                else:
                    period_end = start + payments * period
                    cancel_at_period_end = rng.random() < 0.04
                if payments:
                    welcomed = start + 60
            elif kind == MembershipKind.COMP:
                ends_at = start + rng.choice([90, 180, 365, 730]) * DAY
                note = rng.choice(["Partner newsroom", "Source", "Staff family", "Prize"])
                welcomed = start + 60
                if ends_at < self.now:
                    status, ended_at = MembershipStatus.CANCELED, ends_at
            else:  # a claimed gift
                months = gift_of[index][1]
                ends_at = start + months * MONTH
                welcomed = start + 60
                if ends_at < self.now:
                    status, ended_at = MembershipStatus.CANCELED, ends_at
            self.m_amount.append(amount)
            self.m_currency.append(currency)
            self.m_payments.append(payments)
            rows.append(
                (
                    self.membership_base + index,
                    self.new_uuid(),
                    self.m_user[index],
                    email,
                    self.m_donor[index],
                    kind,
                    status,
                    level,
                    amount,
                    currency or "",
                    interval or "",
                    subscription or None,
                    "",
                    0,
                    stamp(period_end) if period_end else None,
                    cancel_at_period_end,
                    cancel_category,
                    cancel_reason,
                    origin,
                    stamp(start),
                    stamp(ends_at) if ends_at else None,
                    stamp(ended_at) if ended_at else None,
                    stamp(ended_at or start),
                    failed_invoice,
                    stamp(welcomed) if welcomed else None,
                    stamp(ended_at + 60) if ended_at and welcomed else None,
                    note,
                    stamp(start - 30),
                    stamp(ended_at or start),
                    *attr,
                )
            )
        w.write(
            Membership,
            [
                "id",
                "public_id",
                "user_id",
                "email",
                "donor_id",
                "kind",
                "status",
                "level_id",
                "amount",
                "currency",
                "interval",
                "stripe_subscription_id",
                "stripe_setup_intent_id",
                "card_failures",
                "current_period_end",
                "cancel_at_period_end",
                "cancel_category",
                "cancel_reason",
                "origin",
                "starts_at",
                "ends_at",
                "ended_at",
                "stripe_synced_at",
                "last_failed_invoice_id",
                "welcomed_at",
                "ended_notice_at",
                "note",
                "created_at",
                "updated_at",
                *Payment.ATTRIBUTION_FIELDS,
            ],
            rows,
        )
        self.step(f"{self.members} memberships")

    def write_donations(self) -> None:
        """One-time gifts (paid, and some never paid) and gift-membership purchases, in
        time order; remembers each paid one's donation id for its payment."""
        rng = self.rng
        w = self.writer
        base = w.next_id(Donation)
        # (ts, what, index): what 0 = one-time paid, 1 = gift membership, 2 = never paid
        entries = [(gift[0], 1, i) for i, gift in enumerate(self.gifts)]
        entries += [(row[0], 0, i) for i, row in enumerate(self.one_time)]
        unpaid = [
            (self.recent_time(), self.currency(), rng.random())
            for _ in range(int(len(self.one_time) * UNPAID_DONATIONS))
        ]
        entries += [(row[0], 2, i) for i, row in enumerate(unpaid)]
        entries.sort()
        self.one_time_donation = array("q", [0]) * len(self.one_time)
        self.one_time_attr: list[tuple] = [()] * len(self.one_time)
        self.one_time_donor = array("q", [0]) * len(self.one_time)
        self.gift_donation = [0] * len(self.gifts)
        self.gift_donor = [0] * len(self.gifts)
        self.gift_attr: list[tuple] = [()] * len(self.gifts)
        self.gift_amount: list[tuple] = [()] * len(self.gifts)
        blank = ("",) * 8

        def rows() -> Iterator[tuple]:
            for offset, (ts, what, index) in enumerate(entries):
                donation_id = base + offset
                created = ts - rng.uniform(30, 600)
                if what == 0:
                    _, guest, amount, currency, cover = self.one_time[index]
                    donor = self.donor_for_gift(guest)
                    attr = self.attribution(ts)
                    self.one_time_donation[index] = donation_id
                    self.one_time_donor[index] = donor
                    self.one_time_attr[index] = attr
                    kind, status, pi = PaymentKind.ONE_TIME, DonationStatus.SUCCEEDED, donation_id
                elif what == 1:
                    _bought, months, _m, state = self.gifts[index]
                    donor = self.donor_for_gift(
                        rng.randrange(self.guests) if rng.random() < 0.7 else None
                    )
                    currency = self.currency()
                    amount, cover = self.scaled(GIFT_MEMBERSHIP_PRICE[months], currency), 0
                    attr = self.attribution(ts)
                    self.gift_donation[index] = donation_id
                    self.gift_donor[index] = donor
                    self.gift_attr[index] = attr
                    self.gift_amount[index] = (amount, currency)
                    kind, pi = PaymentKind.GIFT, donation_id
                    status = DonationStatus.SUCCEEDED if state != "u" else DonationStatus.FAILED
                else:
                    _, currency, roll = unpaid[index]
                    donor = self.guest_base + rng.randrange(self.guests)
                    amount, cover = self.scaled(rng.choices(*GIFT_AMOUNTS)[0], currency), 0
                    attr = blank
                    kind = PaymentKind.ONE_TIME
                    if roll < 0.6:
                        status, pi = DonationStatus.ABANDONED, donation_id
                    elif roll < 0.9:
                        status, pi = DonationStatus.FAILED, donation_id
                    else:
                        status, pi = DonationStatus.AWAITING_CARD, None
                failed = status == DonationStatus.FAILED
                yield (
                    donation_id,
                    self.new_uuid(),
                    donor,
                    self.donor_names[donor - self.donor_base],
                    self.donor_users[donor - self.donor_base],
                    kind,
                    amount,
                    cover,
                    currency,
                    status,
                    f"pi_{GEN}{pi:09d}" if pi else None,
                    1 + failed,
                    int(failed),
                    DECLINED if failed else "",
                    stamp(created),
                    stamp(ts),
                    *attr,
                )

        count = w.write(
            Donation,
            [
                "id",
                "public_id",
                "donor_id",
                "name",
                "user_id",
                "kind",
                "amount",
                "fee_cover",
                "currency",
                "status",
                "stripe_payment_intent_id",
                "attempts",
                "card_failures",
                "last_error",
                "created_at",
                "updated_at",
                *Donation.ATTRIBUTION_FIELDS,
            ],
            rows(),
        )
        self.step(f"{count} donations ({len(unpaid)} never paid)")

        # Gift memberships, by purchase time.
        gift_base = w.next_id(GiftMembership)
        gift_rows = []
        for index, (bought, months, member, state) in enumerate(self.gifts):
            recipient_name, recipient = self.person(
                member if member is not None else 10_000_000 + index
            )
            send_on = bought + rng.choice([0, 0, 0, 2, 7]) * DAY
            claimed_at = sent_at = None
            if state == "c":
                status = GiftStatus.CLAIMED
                claimed_at = self.m_start[member]
                sent_at = min(send_on, claimed_at)
            elif state == "p":
                sent_at = send_on if send_on <= self.now else None
                status = GiftStatus.SENT if sent_at else GiftStatus.PAID
            else:
                status = GiftStatus.FAILED
            gift_rows.append(
                (
                    gift_base + index,
                    self.new_uuid(),
                    self.gift_donation[index],
                    self.donor_names[self.gift_donor[index] - self.donor_base].split(" ")[0],
                    recipient,
                    recipient_name,
                    "Happy birthday! Enjoy the reporting." if rng.random() < 0.5 else "",
                    months,
                    stamp(send_on).date(),
                    status,
                    f"{rng.getrandbits(192):048x}",
                    stamp(sent_at) if sent_at else None,
                    stamp(claimed_at) if claimed_at else None,
                    self.membership_base + member if member is not None else None,
                    stamp(bought),
                    *self.gift_attr[index],
                )
            )
        w.write(
            GiftMembership,
            [
                "id",
                "public_id",
                "donation_id",
                "giver_name",
                "recipient_email",
                "recipient_name",
                "message",
                "months",
                "send_on",
                "status",
                "claim_token",
                "sent_at",
                "claimed_at",
                "membership_id",
                "created_at",
                *GiftMembership.ATTRIBUTION_FIELDS,
            ],
            gift_rows,
        )
        self.step(f"{len(gift_rows)} gift memberships")

    def write_payments(self) -> None:
        """The ledger, in time order; draws each payment's refunds and disputes on the way
        (a payment's amount_refunded is the sum of its succeeded refunds)."""
        rng = self.rng
        w = self.writer
        self.payment_base = base = w.next_id(Payment)
        # (ts, kind code, index, nth): 0 renewal of membership `index`, 1 one-time, 2 gift
        plan: list[tuple] = []
        for index, count in enumerate(self.m_payments):
            if count:
                period = YEAR if self.m_yearly[index] else MONTH
                start = self.m_start[index]
                plan.extend(
                    (min(self.now - 1, start + nth * period + 20), 0, index, nth)
                    for nth in range(count)
                )
        plan.extend((row[0], 1, index, 0) for index, row in enumerate(self.one_time))
        plan.extend(
            (gift[0], 2, index, 0) for index, gift in enumerate(self.gifts) if gift[3] != "u"
        )
        plan.sort()
        self.step(f"planned {len(plan)} payments in time order")
        total = len(plan)
        self.p_ts = array("d", bytes(8 * total))
        self.p_donor = array("q", bytes(8 * total))
        self.p_kind = array("b", bytes(total))
        self.p_amount = array("q", bytes(8 * total))
        self.p_currency = array("b", bytes(total))
        currency_index = {c: i for i, c in enumerate(self.currencies)}
        self.refunds: list[tuple] = []  # (payment id, amount, currency, status, paid ts)
        self.disputes: list[tuple] = []
        progress = max(1, total // 10)

        def rows() -> Iterator[tuple]:
            for offset, (ts, code, index, _nth) in enumerate(plan):
                payment_id = base + offset
                invoice = pi = donation = None
                if code == 0:
                    kind = PaymentKind.MEMBERSHIP
                    donor = self.m_donor[index]
                    amount, currency = self.m_amount[index], self.m_currency[index]
                    attr = self.m_attr[index]
                    invoice = f"in_{GEN}{payment_id:09d}"
                    if rng.random() >= OUTSIDE_STRIPE_SHARE:
                        pi = f"pi_{GEN}p{payment_id:09d}"
                elif code == 1:
                    kind = PaymentKind.ONE_TIME
                    _, _, gift, currency, cover = self.one_time[index]
                    amount = gift + cover
                    donor = self.one_time_donor[index]
                    attr = self.one_time_attr[index]
                    donation = self.one_time_donation[index]
                    pi = f"pi_{GEN}{donation:09d}"
                else:
                    kind = PaymentKind.GIFT
                    donor = self.gift_donor[index]
                    donation = self.gift_donation[index]
                    amount, currency = self.gift_amount[index]
                    attr = self.gift_attr[index]
                    pi = f"pi_{GEN}{donation:09d}"
                charge = f"ch_{GEN}{payment_id:09d}" if pi else None
                the_fee = fee(amount)
                refunded = 0
                roll = rng.random()
                if charge and roll < DISPUTE_SHARE:
                    self.draw_dispute(payment_id, amount, currency, ts)
                elif charge and kind != PaymentKind.GIFT and roll < DISPUTE_SHARE + REFUND_SHARE:
                    refunded = self.draw_refunds(payment_id, amount, currency, ts)
                self.p_ts[offset] = ts
                self.p_donor[offset] = donor
                self.p_kind[offset] = code
                self.p_amount[offset] = amount
                self.p_currency[offset] = currency_index[currency]
                if offset % progress == progress - 1:
                    self.say(f"    payments: {offset + 1} of {total}")
                yield (
                    payment_id,
                    donor,
                    self.donor_names[donor - self.donor_base],
                    kind,
                    amount,
                    currency,
                    the_fee,
                    amount - the_fee,
                    refunded,
                    donation,
                    pi,
                    charge,
                    invoice,
                    stamp(ts),
                    stamp(ts + 2),
                    *attr,
                )

        w.write(
            Payment,
            [
                "id",
                "donor_id",
                "donor_name",
                "kind",
                "amount",
                "currency",
                "fee",
                "net",
                "amount_refunded",
                "donation_id",
                "stripe_payment_intent_id",
                "stripe_charge_id",
                "stripe_invoice_id",
                "paid_at",
                "created_at",
                *Payment.ATTRIBUTION_FIELDS,
            ],
            rows(),
        )
        self.payments = total
        self.step(f"{total} payments")

    def draw_refunds(self, payment_id: int, amount: int, currency: str, ts: float) -> int:
        """Refunds of one payment: mostly one full refund, some partial (one or two); a few
        pending or failed. Returns the refunded amount (succeeded refunds)."""
        rng = self.rng
        when = min(self.now - 60, ts + rng.uniform(0.05, 30) * DAY)
        if rng.random() >= PARTIAL_REFUND_SHARE or amount < 4:
            parts = [amount]
        else:
            first = max(1, amount // rng.choice([2, 3, 4]))
            parts = [first] + ([max(1, first // 2)] if rng.random() < 0.2 else [])
        refunded = 0
        for part in parts:
            roll = rng.random()
            if roll < 0.94:
                status = RefundStatus.SUCCEEDED
                refunded += part
            elif roll < 0.97:
                status = RefundStatus.PENDING
            elif roll < 0.99:
                status = RefundStatus.FAILED
            else:
                status = RefundStatus.CANCELED
            self.refunds.append((payment_id, part, currency, status, when))
            when = min(self.now - 30, when + rng.uniform(0.1, 5) * DAY)
        return refunded

    def draw_dispute(self, payment_id: int, amount: int, currency: str, ts: float) -> None:
        rng = self.rng
        opened = min(self.now - 3600, ts + rng.uniform(3, 60) * DAY)
        status = weighted(rng, DISPUTE_STATUSES)
        closed = None
        if status in CLOSED_DISPUTE_STATUSES:
            closed = opened + rng.uniform(10, 75) * DAY
            if closed > self.now:
                status, closed = DisputeStatus.UNDER_REVIEW, None
        self.disputes.append(
            (payment_id, amount, currency, rng.choice(DISPUTE_REASONS), status, opened, closed)
        )

    def write_refunds_and_disputes(self) -> None:
        w = self.writer
        base = w.next_id(Refund)
        self.refunds.sort(key=lambda refund: refund[4])
        w.write(
            Refund,
            [
                "id",
                "payment_id",
                "stripe_refund_id",
                "amount",
                "currency",
                "status",
                "reason",
                "note",
                "ends_membership",
                "created_at",
                "updated_at",
            ],
            (
                (
                    base + n,
                    payment_id,
                    f"re_{GEN}{base + n:09d}",
                    amount,
                    currency,
                    status,
                    self.rng.choice(REFUND_REASONS),
                    "Asked by email" if n % 5 == 0 else "",
                    False,
                    stamp(when),
                    stamp(when + 5),
                )
                for n, (payment_id, amount, currency, status, when) in enumerate(self.refunds)
            ),
        )
        base = w.next_id(Dispute)
        self.disputes.sort(key=lambda dispute: dispute[5])
        w.write(
            Dispute,
            [
                "id",
                "payment_id",
                "stripe_dispute_id",
                "amount",
                "currency",
                "reason",
                "status",
                "opened_at",
                "closed_at",
                "status_as_of",
                "updated_at",
            ],
            (
                (
                    base + n,
                    payment_id,
                    f"dp_{GEN}{base + n:09d}",
                    amount,
                    currency,
                    reason,
                    status,
                    stamp(opened),
                    stamp(closed) if closed else None,
                    stamp(closed or opened),
                    stamp(closed or opened),
                )
                for n, (payment_id, amount, currency, reason, status, opened, closed) in enumerate(
                    self.disputes
                )
            ),
        )
        self.step(f"{len(self.refunds)} refunds, {len(self.disputes)} disputes")

    def write_receipts(self) -> None:
        """One receipt per payment, numbered as payments.services.ledger does; the last
        few not sent yet."""
        w = self.writer
        base = w.next_id(Receipt)
        unsent_after = self.now - 600

        def rows() -> Iterator[tuple]:
            for offset in range(self.payments):
                payment_id = self.payment_base + offset
                ts = self.p_ts[offset]
                paid = stamp(ts)
                sent = stamp(ts + 30) if ts < unsent_after else None
                yield (
                    base + offset,
                    payment_id,
                    f"{paid:%Y}-{payment_id:08d}",
                    self.donor_emails[self.p_donor[offset] - self.donor_base],
                    sent,
                    sent,
                    1 if sent else 0,
                    stamp(ts + 3),
                )

        w.write(
            Receipt,
            [
                "id",
                "payment_id",
                "number",
                "email",
                "sent_at",
                "claimed_at",
                "times_sent",
                "created_at",
            ],
            rows(),
        )
        self.step(f"{self.payments} receipts")

    def write_events(self) -> None:
        """The webhook inbox: events about a sample of payments (and their refunds), in
        time order, with small payloads; most processed, some ignored, a few failed."""
        rng = self.rng
        w = self.writer
        count = min(self.events, self.payments * 3)
        if not count:
            return
        base = w.next_id(StripeEvent)
        picks = sorted(rng.randrange(self.payments) for _ in range(count))
        api_version = settings.STRIPE_API_VERSION
        types = {
            0: ["invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"],
            1: ["payment_intent.succeeded", "charge.succeeded", "payment_intent.created"],
            2: ["payment_intent.succeeded", "charge.succeeded"],
        }

        def rows() -> Iterator[tuple]:
            for n, offset in enumerate(picks):
                event_id = base + n
                payment_id = self.payment_base + offset
                ts = self.p_ts[offset] + rng.uniform(0, 5)
                kind_code = self.p_kind[offset]
                event_type = rng.choice(types[kind_code])
                if rng.random() < 0.02:
                    event_type = rng.choice(["charge.refunded", "refund.updated"])
                obj_id = (
                    f"in_{GEN}{payment_id:09d}"
                    if event_type.startswith("invoice")
                    else f"ch_{GEN}{payment_id:09d}"
                )
                roll = rng.random()
                status, ignored, error, processed = EventStatus.PROCESSED, "", "", ts + 1
                if event_type in ("payment_intent.created", "invoice.payment_succeeded"):
                    status, ignored = EventStatus.IGNORED, "No handler for this type."
                elif roll < 0.004:
                    status, error, processed = EventStatus.FAILED, "OperationalError: timeout", None
                elif roll < 0.006 and ts > self.now - 7 * DAY:
                    status, processed = EventStatus.PENDING, None
                payload = {
                    "id": f"evt_{GEN}{event_id:09d}",
                    "object": "event",
                    "type": event_type,
                    "created": int(ts),
                    "data": {
                        "object": {
                            "id": obj_id,
                            "object": event_type.split(".")[0],
                            "amount": self.p_amount[offset],
                            "currency": self.currencies[self.p_currency[offset]].lower(),
                        }
                    },
                }
                yield (
                    event_id,
                    f"evt_{GEN}{event_id:09d}",
                    event_type,
                    api_version,
                    False,
                    stamp(ts),
                    json.dumps(payload, separators=(",", ":")),
                    status,
                    1 if status != EventStatus.PENDING else 0,
                    error,
                    ignored,
                    stamp(ts + 1),
                    stamp(processed) if processed else None,
                )

        w.write(
            StripeEvent,
            [
                "id",
                "stripe_id",
                "type",
                "api_version",
                "livemode",
                "stripe_created",
                "payload",
                "status",
                "attempts",
                "last_error",
                "ignored_reason",
                "received_at",
                "processed_at",
            ],
            rows(),
        )
        self.step(f"{count} Stripe events")

    def finish(self) -> None:
        """Campaign counters from the ledger, sequences past the ids given, statistics."""
        for slug, _start, _end in self.campaign_windows:
            campaign = Campaign.objects.get(slug=slug)
            paid = Payment.objects.filter(campaign=slug)
            one_time = paid.filter(kind=PaymentKind.ONE_TIME)
            if campaign.currency:
                one_time = one_time.filter(currency=campaign.currency)
            Campaign.objects.filter(pk=campaign.pk).update(
                gifts=one_time.count(),
                amount_raised=one_time.aggregate(total=models.Sum("amount"))["total"] or 0,
                new_members=Membership.objects.filter(
                    campaign=slug, kind=MembershipKind.PAID
                ).count()
                + paid.filter(kind=PaymentKind.GIFT).count(),
            )
        self.writer.reset_sequences()
        revenue_rollup.rebuild()  # COPY and bulk inserts skip the ledger's receiver
        if self.writer.postgresql:
            # VACUUM sets the visibility map, so covering indexes allow index-only scans;
            # it cannot run inside a transaction (tests): ANALYZE alone then.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for model in [*self.writer.models, HourlyRevenue]:
                    cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
            self.step(f"campaign counters, sequences, {command}")
        else:
            self.step("campaign counters, sequences")


def clear_generated() -> int:
    """Delete every row an earlier run wrote (found by its markers), children first."""

    def table(model: type[models.Model]) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    # Only identifiers from the models and the constants above: no outside input.
    donors = f"SELECT id FROM {table(Donor)} WHERE stripe_customer_id LIKE 'cus_{GEN}%'"  # noqa: S608
    payments = f"SELECT id FROM {table(Payment)} WHERE donor_id IN ({donors})"  # noqa: S608
    donations = f"SELECT id FROM {table(Donation)} WHERE donor_id IN ({donors})"  # noqa: S608
    campaigns = f"SELECT id FROM {table(Campaign)} WHERE slug LIKE '{CAMPAIGN_PREFIX}%'"  # noqa: S608
    members = f"email LIKE '%@{EMAIL_DOMAIN}'"
    wheres = [
        (Receipt, f"payment_id IN ({payments})"),
        (Refund, f"payment_id IN ({payments})"),
        (Dispute, f"payment_id IN ({payments})"),
        (GiftMembership, f"donation_id IN ({donations})"),
        (Payment, f"donor_id IN ({donors})"),
        (Donation, f"donor_id IN ({donors})"),
        (Membership, members),
        (Donor, f"stripe_customer_id LIKE 'cus_{GEN}%'"),
        (User, members),
        (StripeEvent, f"stripe_id LIKE 'evt_{GEN}%'"),
        (CampaignContribution, f"campaign_id IN ({campaigns})"),
        (Campaign, f"slug LIKE '{CAMPAIGN_PREFIX}%'"),
        (Article, f"url LIKE '{ARTICLE_HOST}%'"),
    ]
    deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for model, where in wheres:
            cursor.execute(f"DELETE FROM {table(model)} WHERE {where}")  # noqa: S608
            deleted += max(0, cursor.rowcount)
    return deleted
