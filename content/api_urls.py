"""/api/: the support-block API (content/api.py), its OpenAPI schema and docs."""

from django.urls import path

from content.api import api

urlpatterns = [path("", api.urls)]
