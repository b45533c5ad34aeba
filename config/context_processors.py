from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from config import branding


def organization(request: HttpRequest) -> dict[str, str]:
    """The newsroom's name, logo, support address and website, and the address of its
    colours (`/brand.css`), for every page (config/branding.py)."""
    return {
        "ORGANIZATION_NAME": settings.ORGANIZATION_NAME,
        "ORGANIZATION_SUPPORT_EMAIL": settings.ORGANIZATION_SUPPORT_EMAIL,
        "ORGANIZATION_LOGO_URL": branding.logo_url(),
        "ORGANIZATION_WEBSITE": branding.website(),
        "BRAND_CSS_URL": f"{reverse('brand_css')}?v={branding.version()}",
    }
