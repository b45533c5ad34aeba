"""Fill an empty site with what a first look needs: a staff user, amounts, levels, articles.

Safe to run again: existing rows are kept; the staff password is reset and printed.
"""

import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from content.models import Article
from members.models import LevelAmount, MembershipLevel, User
from members.states import Interval
from payments.currencies import offered_currencies
from payments.models import SuggestedAmount

STAFF_EMAIL = "staff@example.org"

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

ARTICLES = [
    ("frontline-dispatch-winter", "Dispatch from the front line as winter sets in"),
    ("energy-grid-repairs", "How engineers keep the lights on after every strike"),
    ("investigation-procurement", "Investigation: the procurement deals nobody could explain"),
    ("explainer-reconstruction-fund", "Explainer: who pays for reconstruction, and how"),
]


class Command(BaseCommand):
    help = (
        "Create demo data: a staff user (credentials printed), suggested amounts, "
        "membership levels, articles."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        password = secrets.token_urlsafe(12)
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
                slug=slug, defaults={"name": name, "description": perks, "position": position}
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
        for age, (slug, title) in enumerate(ARTICLES):
            Article.objects.get_or_create(
                slug=slug,
                defaults={
                    "title": title,
                    "url": f"https://news.example.org/{slug}/",
                    "published_at": now - timedelta(days=age),
                },
            )

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Staff sign-in: {STAFF_EMAIL} / {password}")
        self.stdout.write(f"  Currencies: {', '.join(offered_currencies())}")
        self.stdout.write(f"  Levels: {', '.join(str(lv) for lv in MembershipLevel.objects.all())}")
        self.stdout.write(f"  Articles: {Article.objects.count()}")
