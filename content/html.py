"""Article HTML, made safe to print: nh3 (the Ammonia sanitiser) with an allow-list.

Whatever arrives (a feed, the import API, a paste in admin) keeps only the tags
and attributes below; scripts, styles, event handlers, `javascript:` links and
frames go. Links get rel="noopener nofollow". Relative links and images are read
against the article's own address on the publisher's site (or dropped without
one), so they never point into this site.
"""

import html

import nh3

# Block and inline tags an article needs; anything else is unwrapped (its text kept).
TAGS = {
    "p", "br", "hr",
    "h2", "h3", "h4",
    "a", "em", "strong", "b", "i", "u", "s", "small", "sub", "sup", "mark",
    "code", "pre", "kbd", "q", "cite", "abbr", "time",
    "ul", "ol", "li", "dl", "dt", "dd",
    "blockquote", "figure", "figcaption", "img",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
# Summaries sit inside lists of articles: a line of text, with links and emphasis.
INLINE_TAGS = {"a", "em", "strong", "b", "i", "code", "q", "cite", "abbr", "br"}
# Removed together with everything inside them (not unwrapped).
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "embed", "noscript"}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener nofollow"


def _relative_urls(base_url: str | None):
    if base_url and base_url.startswith(("http://", "https://")):
        return ("rewrite_with_base", base_url)
    return "deny"


def clean(markup: str, *, base_url: str | None = None) -> str:
    """An article's body or notes, reduced to the allowed tags and attributes."""
    if not markup:
        return ""
    return nh3.clean(
        markup,
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        link_rel=LINK_REL,
        url_schemes=URL_SCHEMES,
        url_relative=_relative_urls(base_url),
        strip_comments=True,
    ).strip()


def clean_inline(markup: str, *, base_url: str | None = None) -> str:
    """A summary: text with links and emphasis only."""
    if not markup:
        return ""
    return nh3.clean(
        markup,
        tags=INLINE_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes={"a": {"href", "title"}, "abbr": {"title"}},
        link_rel=LINK_REL,
        url_schemes=URL_SCHEMES,
        url_relative=_relative_urls(base_url),
        strip_comments=True,
    ).strip()


def text(markup: str) -> str:
    """Plain text from a fragment that may hold tags or entities (a feed's titles)."""
    if not markup:
        return ""
    stripped = nh3.clean(markup, tags=set(), clean_content_tags=DROP_WITH_CONTENT)
    return " ".join(html.unescape(stripped).split())
