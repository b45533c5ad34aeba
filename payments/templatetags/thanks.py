"""What the thank-you pages offer next: the way back to the article the reader came from
(or the newsroom's site), and, after a one-time gift, the same amount every month."""

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.http import QueryDict
from django.urls import reverse

from payments.attribution import SourceArticle, source_article
from payments.models import Attribution
from payments.money import Money
from payments.price_labels import short
from payments.states import PaymentKind

register = template.Library()


@register.simple_tag
def came_from(attributed: Attribution) -> SourceArticle | None:
    """The published article the gift or membership came from, if any."""
    return source_article(getattr(attributed, "article_slug", "") or "")


@register.simple_tag
def back_to_news_url(article: SourceArticle | None = None) -> str:
    """The article's own address, else the newsroom's site (ORGANIZATION_WEBSITE), else
    this site's home page."""
    if article is not None and article.url:
        return article.url
    return settings.ORGANIZATION_WEBSITE or reverse("home")


@dataclass(frozen=True)
class MonthlyOffer:
    amount: Money
    url: str

    @property
    def label(self) -> str:
        """The amount as the pay buttons say it: "$10", "$10.50"."""
        return short(self.amount.amount, self.amount.currency)


@register.simple_tag
def monthly_offer(donation) -> MonthlyOffer | None:
    """After a one-time gift: the join page, monthly, in the gift's currency and amount
    (without the card fee cover), keeping its article and campaign. None for anything
    else (a gift membership, a gift not paid)."""
    if (
        donation is None
        or donation.kind != PaymentKind.ONE_TIME
        or not donation.is_settled
        or not donation.amount
    ):
        return None
    amount = Money(donation.amount, donation.currency)
    params = QueryDict(mutable=True)
    params["interval"] = "month"
    params["currency"] = amount.currency
    params["amount"] = str(amount.as_decimal())
    for name, value in (("from", donation.article_slug), ("campaign", donation.campaign)):
        if value:
            params[name] = value
    return MonthlyOffer(amount=amount, url=f"{reverse('members:join')}?{params.urlencode()}")
