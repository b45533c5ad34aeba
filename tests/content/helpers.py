"""Articles as the tests need them: with text, member extras, or not published yet."""

from datetime import timedelta

from django.utils import timezone

from content.models import Article, ArticleDocument
from tests.factories import ArticleFactory


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
