"""The newsroom's look, from settings: name, logo, colours, support address.

A newsroom rebrands by setting ORGANIZATION_NAME, ORGANIZATION_LOGO, BRAND_COLOR,
BRAND_CONTRAST_COLOR and BRAND_ACCENT_COLOR, never by editing the stylesheet. The
Content-Security-Policy allows no inline style, so the colours reach the pages as a tiny
stylesheet of their own (`/brand.css`, linked before site.css, which reads its variables)
and reach the emails as values (`for_emails`). Colours are checked when the site starts
(`colour_problems`, a system check in settings): a typo fails clearly, not as a page in
the browser's default blue.
"""

import hashlib
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

# Setting name → the CSS variable site.css reads it from
COLOUR_SETTINGS = {
    "BRAND_COLOR": "--brand",
    "BRAND_CONTRAST_COLOR": "--brand-contrast",
    "BRAND_ACCENT_COLOR": "--brand-accent",
}


def colour_problems(values: dict[str, object] | None = None) -> list[str]:
    """What is wrong with the colour settings (each must be #rgb or #rrggbb), or []."""
    if values is None:
        values = {name: getattr(settings, name, None) for name in COLOUR_SETTINGS}
    return [
        f"{name}={value!r} is not a colour: write it as #rrggbb (e.g. #0b5cad) or #rgb."
        for name, value in values.items()
        if not (isinstance(value, str) and HEX_COLOUR.fullmatch(value))
    ]


def stylesheet() -> str:
    """`/brand.css`: the colour settings as the CSS variables site.css uses."""
    lines = [
        f"  {variable}: {str(getattr(settings, name)).lower()};"
        for name, variable in COLOUR_SETTINGS.items()
    ]
    return ":root {\n" + "\n".join(lines) + "\n}\n"


def version() -> str:
    """Changes with the colours, so a browser never keeps an old `/brand.css`."""
    return hashlib.sha256(stylesheet().encode()).hexdigest()[:12]


def logo_url(*, absolute: bool = False) -> str:
    """ORGANIZATION_LOGO as an address: a full URL as it is, a path under static/ through
    the static files storage; "" when no logo is set. `absolute` (emails): with SITE_URL."""
    logo = (settings.ORGANIZATION_LOGO or "").strip()
    if not logo:
        return ""
    if logo.startswith(("https://", "http://", "/")):
        url = logo
    else:
        from django.templatetags.static import static

        url = static(logo)
    if absolute and url.startswith("/"):
        return settings.SITE_URL + url
    return url


def website() -> str:
    """Where "Back to the news" goes when no article is known: the newsroom's own site
    (ORGANIZATION_WEBSITE), else this site's home page."""
    return settings.ORGANIZATION_WEBSITE or "/"


def for_emails() -> dict[str, str]:
    """What emails show of the brand (inline styles are fine in email)."""
    return {
        "brand_color": settings.BRAND_COLOR,
        "brand_contrast_color": settings.BRAND_CONTRAST_COLOR,
        "logo_url": logo_url(absolute=True),
        "website": settings.ORGANIZATION_WEBSITE or settings.SITE_URL,
    }


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    """The colours as a stylesheet. Linked with `?v=<version>`, so it is cached for a
    year and a new colour is a new address; without it (an old page), for five minutes."""
    response = HttpResponse(stylesheet(), content_type="text/css; charset=utf-8")
    long_lived = request.GET.get("v") == version()
    response["Cache-Control"] = (
        "public, max-age=31536000, immutable" if long_lived else "public, max-age=300"
    )
    return response
