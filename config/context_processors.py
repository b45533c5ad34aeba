from django.conf import settings
from django.http import HttpRequest


def organization(request: HttpRequest) -> dict[str, str]:
    return {
        "ORGANIZATION_NAME": settings.ORGANIZATION_NAME,
        "ORGANIZATION_SUPPORT_EMAIL": settings.ORGANIZATION_SUPPORT_EMAIL,
    }
