"""Fill an empty site with what a first look needs: a staff user, amounts, levels, a
dozen articles, and a few months of one-time gifts and memberships in the ledger.

Safe to run again: existing rows are kept; the staff password is set again to this
checkout's own, made on the first run and kept in var/staff-password, and printed.
The demo gifts and memberships are rows written directly (no Stripe): their Stripe ids
start with `pi_demo_`, `ch_demo_`, `in_demo_`, `sub_demo_`, so Stripe knows none of them
(a refund from admin fails; everything else reads them like real ones).
"""

import os
import random
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from content.management.demo_articles import ARTICLES, DemoArticle
from content.models import Article, ArticleDocument, Campaign, GoalKind
from content.services import campaigns
from members.models import LevelAmount, Membership, MembershipLevel, User
from members.states import Interval, MembershipKind, MembershipStatus
from payments.currencies import fee_cover, offered_currencies
from payments.models import Donation, Payment, SuggestedAmount
from payments.services.donors import get_or_create_donor
from payments.states import DonationStatus, PaymentKind

STAFF_EMAIL = "staff@example.org"
DEMO_CAMPAIGN_SLUG = "winter-appeal"

# Whole units per currency; converted to minor units with the currency's decimals.
SUGGESTED = {"USD": [5, 10, 25, 50], "EUR": [5, 10, 25, 50], "GBP": [5, 10, 25, 50]}
SUGGESTED_FALLBACK = [200, 500, 1000, 2000]  # e.g. UAH

# Membership levels: (slug, name, monthly whole units, perks one per line).
# Yearly costs ten months; currencies without an entry use LEVELS_FALLBACK's units.
LEVELS = [
    ("supporter", "Supporter", 5, "Our newsletter from the editors\nNo donation reminders"),
    (
        "insider",
        "Insider",
        10,
        "Everything Supporters get\nMonthly call with the newsroom\nEarly access to investigations",
    ),
    (
        "champion",
        "Champion",
        25,
        "Everything Insiders get\nYour name on our supporters page\nA yearly printed report",
    ),
]
LEVEL_CURRENCIES = {"USD", "EUR", "GBP"}
LEVELS_FALLBACK = {"supporter": 200, "insider": 500, "champion": 1000}  # e.g. UAH
YEARLY_MONTHS = 10

# The demo ledger: invented readers, the same every run (a seeded random generator).
DEMO_SEED = 2026
DEMO_READERS = [
    "Anna Kowalski", "Ben Okafor", "Carla Mendes", "Daniel Weiss", "Elena Petrenko",
    "Farid Haddad", "Grace Lin", "Hugo Martin", "Ines Garcia", "Jonas Berg", "Kateryna Bilyk",
    "Liam Murphy", "Mira Novak", "Nils Larsen", "Olga Shevchenko", "Pavel Dvorak",
    "Rosa Bianchi", "Sam Taylor", "Tetiana Koval", "Uma Patel", "Viktor Horvat",
    "Wendy Clarke", "Yusuf Demir", "Zoe Fischer",
]  # fmt: skip
DEMO_DAYS = 120  # how far back the demo gifts and memberships go
DEMO_GIFTS = 40  # one-time gifts
DEMO_MEMBERS = 14  # paid memberships, DEMO_ENDED of them since ended
DEMO_ENDED = 2
DEMO_CURRENCY_WEIGHTS = {"USD": 6, "EUR": 2, "GBP": 1, "UAH": 1}
DEMO_UTM_SOURCES = ["", "", "newsletter", "facebook", "telegram"]
# Linked from an article the site does not know (yet): kept on the gift all the same.
DEMO_UNKNOWN_SLUG = "special-report-from-the-app"


class Command(BaseCommand):
    help = (
        "Create demo data: a staff user (credentials printed), suggested amounts, "
        "membership levels, a dozen articles, and a few months of gifts and memberships."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-ledger",
            action="store_true",
            help="Leave out the invented gifts and memberships (their Stripe ids exist "
            "nowhere): for a site that talks to a real Stripe or an emulator it checks.",
        )
        parser.add_argument(
            "--password-file",
            type=Path,
            default=settings.VAR_DIR / "staff-password",
            help="where the staff password is kept (made on the first run; default: "
            "var/staff-password)",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        password = staff_password(options["password_file"])
        staff, _ = User.objects.get_or_create(
            email=STAFF_EMAIL,
            defaults={"display_name": "Newsroom staff", "is_staff": True, "is_superuser": True},
        )
        staff.is_staff = staff.is_superuser = True
        staff.set_password(password)
        staff.save()
        EmailAddress.objects.update_or_create(
            user=staff, email=STAFF_EMAIL, defaults={"verified": True, "primary": True}
        )

        for currency in offered_currencies().values():
            whole_units = SUGGESTED.get(currency.code, SUGGESTED_FALLBACK)
            for position, units in enumerate(whole_units):
                SuggestedAmount.objects.get_or_create(
                    currency=currency.code,
                    amount=units * 10**currency.decimals,
                    defaults={"position": position, "is_default": position == 1},
                )

        for position, (slug, name, units, perks) in enumerate(LEVELS):
            level, _ = MembershipLevel.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": perks,
                    "position": position,
                    "no_donation_asks": "no donation reminders" in perks.lower(),
                    "shown_on_supporters_wall": "supporters page" in perks.lower(),
                },
            )
            for currency in offered_currencies().values():
                monthly = units if currency.code in LEVEL_CURRENCIES else LEVELS_FALLBACK[slug]
                for interval, whole_units in (
                    (Interval.MONTH, monthly),
                    (Interval.YEAR, monthly * YEARLY_MONTHS),
                ):
                    LevelAmount.objects.get_or_create(
                        level=level,
                        currency=currency.code,
                        interval=interval,
                        defaults={"amount": whole_units * 10**currency.decimals},
                    )

        now = timezone.now()
        for age, demo in enumerate(ARTICLES):
            _demo_article(demo, published_at=now - timedelta(days=age, hours=3 * age))
        payments_made = 0 if options["no_ledger"] else _demo_ledger(now)
        campaign = _demo_campaign(now, count_ledger=not options["no_ledger"])

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Staff sign-in: {STAFF_EMAIL} / {password}")
        self.stdout.write(f"  Currencies: {', '.join(offered_currencies())}")
        self.stdout.write(f"  Levels: {', '.join(str(lv) for lv in MembershipLevel.objects.all())}")
        self.stdout.write(f"  Articles: {Article.objects.count()}")
        campaign.refresh_from_db()
        self.stdout.write(
            f"  Campaign: {campaign.name} ({campaign.new_members} of {campaign.goal} so far)"
        )
        demo_payments = Payment.objects.filter(stripe_charge_id__startswith="ch_demo_")
        demo_members = Membership.objects.filter(stripe_subscription_id__startswith="sub_demo_")
        self.stdout.write(
            f"  Demo ledger: {demo_payments.count()} payments ({payments_made} new), "
            f"{demo_members.count()} memberships"
        )


def staff_password(path: Path) -> str:
    """The staff password kept in `path`, made (random, readable by its owner only) if
    there is none yet: the sign-in `make run` prints stays the same from run to run."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(12) + "\n")
        try:
            os.link(draft, path)  # whole or absent: a run alongside never reads half of it
        except FileExistsError:
            pass  # made meanwhile by another run: that one it is
        finally:
            draft.unlink()
    return path.read_text().strip()


def _demo_article(demo: DemoArticle, *, published_at: datetime) -> None:
    """Create the article; one left by an earlier version without a body gets the rest."""
    texts = {
        "section": demo.section,
        "author": demo.author,
        "summary": demo.summary,
        "body": demo.body.strip(),
        "member_notes": demo.member_notes.strip(),
    }
    article, created = Article.objects.get_or_create(
        slug=demo.slug,
        defaults={
            "title": demo.title,
            "url": f"https://news.example.org/{demo.slug}/",
            "published_at": published_at,
            **texts,
        },
    )
    if not created and not article.body:
        for name, value in texts.items():
            setattr(article, name, value)
        article.save()
    if demo.documents and not article.documents.exists():
        ArticleDocument.objects.bulk_create(
            ArticleDocument(article=article, title=title, url=url, position=position)
            for position, (title, url) in enumerate(demo.documents)
        )


def _demo_campaign(now: datetime, *, count_ledger: bool) -> Campaign:
    """One live campaign; the demo memberships and gifts of its first days count towards
    it (named by its slug as if they came from its links; each counted once)."""
    campaign, _ = Campaign.objects.get_or_create(
        slug=DEMO_CAMPAIGN_SLUG,
        defaults={
            "name": "Winter appeal: 500 new members",
            "goal_kind": GoalKind.MEMBERS,
            "goal": 500,
            "starts_at": now - timedelta(days=45),
            "ends_at": now + timedelta(days=30),
        },
    )
    if not count_ledger:
        return campaign
    recent = {"starts_at__gte": campaign.starts_at, "campaign": ""}
    demo_members = Membership.objects.filter(stripe_subscription_id__startswith="sub_demo_")
    demo_members.filter(**recent).update(campaign=campaign.slug)
    for pk in demo_members.filter(campaign=campaign.slug).values_list("pk", flat=True):
        campaigns.count_membership(pk)
    demo_gifts = Payment.objects.filter(stripe_charge_id__startswith="ch_demo_gift_")
    recent_gifts = demo_gifts.filter(paid_at__gte=campaign.starts_at, campaign="")
    Donation.objects.filter(payment__in=recent_gifts).update(campaign=campaign.slug)
    recent_gifts.update(campaign=campaign.slug)
    for donation_id in demo_gifts.filter(campaign=campaign.slug).values_list(
        "donation__public_id", flat=True
    ):
        campaigns.count_payment(str(donation_id))
    return campaign


def _demo_ledger(now: datetime) -> int:
    """A few months of one-time gifts and paid memberships, written as the ledger rows
    Stripe's events would have made. Keyed by their fake Stripe ids: a second run adds
    nothing. Returns how many ledger rows it wrote."""
    rng = random.Random(DEMO_SEED)  # noqa: S311 (invented data, not secrets)
    offered = offered_currencies()
    weights = {code: DEMO_CURRENCY_WEIGHTS.get(code, 1) for code in offered}
    slugs = [demo.slug for demo in ARTICLES]
    made = 0

    def reader(n: int) -> tuple[str, str]:
        name = DEMO_READERS[n % len(DEMO_READERS)]
        return name, f"{name.lower().replace(' ', '.')}@example.org"

    def attribution() -> dict[str, str]:
        roll = rng.random()
        slug = rng.choice(slugs) if roll < 0.75 else (DEMO_UNKNOWN_SLUG if roll < 0.8 else "")
        return {"article_slug": slug, "utm_source": rng.choice(DEMO_UTM_SOURCES)}

    def pay(charge_id: str, **fields) -> None:
        nonlocal made
        fee = fee_cover(fields["amount"], fields["currency"])
        _, created = Payment.objects.get_or_create(
            stripe_charge_id=charge_id,
            defaults={**fields, "fee": fee, "net": fields["amount"] - fee},
        )
        made += created

    # One-time gifts: a suggested amount, after an article (mostly).
    for n in range(DEMO_GIFTS):
        name, email = reader(rng.randrange(len(DEMO_READERS)))
        code = rng.choices(list(weights), weights=list(weights.values()))[0]
        currency = offered[code]
        amount = rng.choice(SUGGESTED.get(code, SUGGESTED_FALLBACK)) * 10**currency.decimals
        paid_at = now - timedelta(days=rng.uniform(0.5, DEMO_DAYS))
        where = attribution()
        if Payment.objects.filter(stripe_charge_id=f"ch_demo_gift_{n:03}").exists():
            continue
        donor = get_or_create_donor(email, name=name)
        donation = Donation.objects.create(
            donor=donor,
            name=name,
            kind=PaymentKind.ONE_TIME,
            amount=amount,
            currency=code,
            status=DonationStatus.SUCCEEDED,
            stripe_payment_intent_id=f"pi_demo_gift_{n:03}",
            attempts=1,
            **where,
        )
        Donation.objects.filter(pk=donation.pk).update(created_at=paid_at, updated_at=paid_at)
        pay(
            f"ch_demo_gift_{n:03}",
            donor=donor,
            donor_name=name,
            kind=PaymentKind.ONE_TIME,
            amount=amount,
            currency=code,
            donation=donation,
            stripe_payment_intent_id=f"pi_demo_gift_{n:03}",
            paid_at=paid_at,
            **where,
        )

    # Paid memberships: monthly (every fifth yearly), a renewal a month since they began.
    prices = {
        (price.level.slug, price.currency, price.interval): price.amount
        for price in LevelAmount.objects.select_related("level")
    }
    levels = {level.slug: level for level in MembershipLevel.objects.all()}
    for n in range(DEMO_MEMBERS):
        name, email = reader(n)
        level_slug = LEVELS[rng.choice([0, 0, 0, 1, 1, 2])][0]
        interval = Interval.YEAR if n % 5 == 4 else Interval.MONTH
        code = rng.choice([c for c in ("USD", "EUR", "GBP") if c in offered] or list(offered))
        amount = prices[(level_slug, code, interval)]
        began = now - timedelta(days=rng.uniform(10, DEMO_DAYS))
        ended = now - timedelta(days=rng.uniform(1, 9)) if n < DEMO_ENDED else None
        period = timedelta(days=365 if interval == Interval.YEAR else 30)
        where = attribution()
        donor = get_or_create_donor(email, name=name)
        membership, created = Membership.objects.get_or_create(
            stripe_subscription_id=f"sub_demo_{n:02}",
            defaults={
                "email": email,
                "donor": donor,
                "kind": MembershipKind.PAID,
                "status": MembershipStatus.CANCELED if ended else MembershipStatus.ACTIVE,
                "level": levels[level_slug],
                "amount": amount,
                "currency": code,
                "interval": interval,
                "starts_at": began,
                "ended_at": ended,
                "welcomed_at": began,
                **where,
            },
        )
        began, ended = membership.starts_at, membership.ended_at  # as first written
        charges = 0
        while began + charges * period <= (ended or now):
            paid_at = began + charges * period
            pay(
                f"ch_demo_{n:02}_{charges:02}",
                donor=donor,
                donor_name=name,
                kind=PaymentKind.MEMBERSHIP,
                amount=amount,
                currency=code,
                stripe_invoice_id=f"in_demo_{n:02}_{charges:02}",
                paid_at=paid_at,
                **membership.attribution(),
            )
            charges += 1
        if created:
            Membership.objects.filter(pk=membership.pk).update(
                created_at=began,
                current_period_end=None if ended else began + charges * period,
            )
    return made
