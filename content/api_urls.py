"""/api/: the support-block API (content/api.py), its OpenAPI schema and docs."""

from django.urls import path

from content.api import api, support_block_view

urlpatterns = [
    # The hottest path first, as a plain view (same answer, no ninja per request)
    path("support-block/<str:slug>", support_block_view),
    path("", api.urls),
]
