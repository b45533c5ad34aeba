from django.contrib.admin.apps import AdminConfig


class PatronageAdminConfig(AdminConfig):
    """Django's admin, with our site (config/admin_site.py: the revenue dashboard first)."""

    default_site = "config.admin_site.PatronageAdminSite"
