"""The admin site: Django's, with the revenue dashboard first (config/dashboard.py)."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import path

from config import dashboard


class PatronageAdminSite(admin.AdminSite):
    site_header = "Patronage"
    site_title = "Patronage admin"
    # The app list beside every page costs a laptop's list its last columns; the
    # breadcrumbs and the index lead everywhere instead.
    enable_nav_sidebar = False

    def get_urls(self):
        return [
            path("revenue/", self.admin_view(self.revenue_view), name="revenue_dashboard"),
            *super().get_urls(),
        ]

    def revenue_view(self, request: HttpRequest):
        return dashboard.revenue_dashboard(request, self.each_context(request))

    def index(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "revenue_summary": dashboard.index_summary(request),
        }
        return super().index(request, extra_context)
