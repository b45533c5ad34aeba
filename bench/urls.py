"""The site's URLs plus `GET /bench/ceiling`: a bare Django view returning a constant,
the ceiling every bench figure is a ratio to (same gunicorn, settings and middleware)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.web import CEILING_PATH
from config.urls import urlpatterns as site_urlpatterns


def ceiling(request: HttpRequest) -> HttpResponse:
    """A constant: no template, no form, no query."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [*site_urlpatterns, path(CEILING_PATH.lstrip("/"), ceiling, name="bench_ceiling")]
