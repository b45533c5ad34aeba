"""What any template can ask of content: `{% load articles %}`.

The home page is config's view (it imports no app); it lists articles through
`{% latest_articles as list %}`. The header asks `{% reader_is_member as member %}`.
Any page may show the running campaign's meter (cached: no query when warm) with
`{% live_campaign as campaign %}{% if campaign %}{% include "content/campaign_meter.html" %}`.
"""

from django import template

from content import selectors, support
from content.models import Article

register = template.Library()


@register.simple_tag
def latest_articles(count: int = selectors.LATEST_COUNT) -> list[Article]:
    return selectors.latest_articles(count)


@register.simple_tag(takes_context=True)
def reader_is_member(context: template.Context) -> bool:
    """The reader has member perks (False for guests, and on pages without a request)."""
    request = context.get("request")
    return request is not None and selectors.reader_has_perks(request)


@register.simple_tag
def live_campaign() -> support.CampaignProgress | None:
    return support.live_campaign_progress()
