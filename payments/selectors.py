"""Reads in payments."""

from django.core.validators import slug_re
from django.db.models import QuerySet

from content.models import Article
from payments.models import Donation, Payment, SuggestedAmount


def suggested_amounts() -> dict[str, list[SuggestedAmount]]:
    """Suggested one-time amounts per currency, in display order."""
    amounts: dict[str, list[SuggestedAmount]] = {}
    for suggestion in SuggestedAmount.objects.all():
        amounts.setdefault(suggestion.currency, []).append(suggestion)
    return amounts


def article_by_slug(slug: str) -> Article | None:
    """The article a reader came from, if `slug` names one (anything else: None)."""
    if not slug or len(slug) > 200 or not slug_re.fullmatch(slug):
        return None
    return Article.objects.filter(slug=slug).first()


def donation_for_page(public_id) -> Donation | None:
    return Donation.objects.select_related("donor").filter(public_id=public_id).first()


def giving_history(user) -> QuerySet[Payment]:
    """Every ledger row of the donors linked to this account, newest first."""
    return Payment.objects.filter(donor__user=user).select_related("receipt").order_by("-paid_at")
