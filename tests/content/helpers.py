"""Articles as the tests need them: with text, member extras, or not published yet."""

from datetime import timedelta

from django.utils import timezone

from content.models import Article, ArticleDocument
from members.states import MembershipKind, MembershipStatus
from tests.factories import (
    ArticleFactory,
    DonorFactory,
    MembershipFactory,
    PaidMembershipFactory,
    PaymentFactory,
    UserFactory,
)


def article(**fields) -> Article:
    """A published article with a section, a byline, a summary and a body."""
    defaults = {
        "section": "Economy",
        "author": "Olena Kovalenko",
        "summary": "<em>Repair crews</em> restore substations within hours.",
        "body": "<p>The call came at 3:40 in the morning.</p><p>By 4:15 the crew was out.</p>",
    }
    return ArticleFactory(**{**defaults, **fields})


def article_with_extras(**fields) -> Article:
    """An article with notes from behind the story and one document: member extras."""
    made = article(member_notes="<p>A reader's photo started this story.</p>", **fields)
    ArticleDocument.objects.create(
        article=made, title="The tender documents", url="https://news.example.org/docs/t.pdf"
    )
    return made


def scheduled(**fields) -> Article:
    """An article the newsroom will publish tomorrow."""
    return article(published_at=timezone.now() + timedelta(days=1), **fields)


# --- Readers in each state the support block tells apart -------------------------------


def comp_member():
    return MembershipFactory(kind=MembershipKind.COMP).user


def gift_member():
    return MembershipFactory(
        kind=MembershipKind.GIFT, note="", ends_at=timezone.now() + timedelta(days=90)
    ).user


def lapsed_member():
    return PaidMembershipFactory(
        status=MembershipStatus.CANCELED, ended_at=timezone.now() - timedelta(days=10)
    ).user


def one_time_donor():
    user = UserFactory()
    PaymentFactory(donor=DonorFactory(user=user, email=user.email))
    return user
