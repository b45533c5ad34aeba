"""Which articles and campaigns bring supporters: ledger money and new members per source,
with the article's title or the campaign's name (content knows them; payments and members
keep only slugs)."""

from dataclasses import dataclass, replace

from content.models import Article, Campaign
from members.selectors import figures as member_figures
from payments.money import Money
from payments.selectors import revenue
from payments.selectors.revenue import Period

SORTS = {
    "money": lambda row: (row.amount, row.members, row.gifts),
    "members": lambda row: (row.members, row.amount, row.gifts),
    "gifts": lambda row: (row.gifts, row.amount, row.members),
}


@dataclass(frozen=True)
class TopSource:
    slug: str
    name: str  # the article's title or the campaign's name ("" when none has the slug)
    gifts: int
    members: int
    payments: int
    amount: int
    currency: str

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


def top_sources(
    source: str, currency: str, period: Period, *, sort: str = "money", limit: int = 10
) -> list[TopSource]:
    """The `limit` articles (`source="article_slug"`) or campaigns (`"campaign"`) first by
    `sort` (money, members or gifts) in the period: three queries."""
    money = revenue.money_by_source(currency, period, source)
    members = member_figures.members_by_source(period, source)
    rows = [
        TopSource(
            slug=slug,
            name="",
            gifts=money[slug].gifts if slug in money else 0,
            members=members.get(slug, 0),
            payments=money[slug].payments if slug in money else 0,
            amount=money[slug].amount if slug in money else 0,
            currency=currency,
        )
        for slug in set(money) | set(members)
    ]
    rows.sort(key=lambda row: (tuple(-value for value in SORTS[sort](row)), row.slug))
    rows = rows[:limit]
    model, label = (Article, "title") if source == "article_slug" else (Campaign, "name")
    names = dict(
        model.objects.filter(slug__in=[row.slug for row in rows]).values_list("slug", label)
    )
    return [replace(row, name=names.get(row.slug, "")) for row in rows]
