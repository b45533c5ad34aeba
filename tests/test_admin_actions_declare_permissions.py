"""Every admin action and every custom admin page declares the permission it needs.

Walks the admin site's registry, so an action or a page added later is checked too:
an action without `allowed_permissions` would be offered to every staff member who
may view the list; a custom page (ModelAdmin.get_urls) is reached by any staff member
unless it checks. Each custom page is named below with the permission that opens it:
a staff member holding every other permission is turned away (403, or sent elsewhere),
one holding it gets the page.
"""

import re

import factory
import pytest
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, reverse

from tests import factories
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def registered() -> list[ModelAdmin]:
    return sorted(admin.site._registry.values(), key=lambda m: m.opts.label)


def all_actions() -> list:
    return [
        pytest.param(model_admin, func, id=f"{model_admin.opts.label}.{name}")
        for model_admin in registered()
        for func, name, _ in model_admin._get_base_actions()
    ]


@pytest.mark.parametrize(("model_admin", "func"), all_actions())
def test_every_action_declares_the_permissions_it_needs(model_admin, func):
    permissions = getattr(func, "allowed_permissions", None)
    assert permissions, f"{func.__name__} must declare its permissions (@admin.action)"
    for permission in permissions:
        assert callable(getattr(model_admin, f"has_{permission}_permission", None))


def test_a_staff_member_with_view_permissions_only_is_offered_no_action():
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(user)

    for model_admin in registered():
        request = client.get(reverse("admin:index")).wsgi_request
        request.user = user
        offered = model_admin.get_actions(request)
        assert offered == {}, f"{model_admin.opts.label}: {sorted(offered)}"


# --- Custom pages ------------------------------------------------------------------------

# Each custom admin page, by URL name (a pattern), and the permission that opens it.
CUSTOM_PAGES = {
    r"payments_payment_refund": lambda model_admin: "payments.add_refund",
    r"auth_user_password_change": lambda model_admin: "members.change_user",
    r".+_export_csv": lambda model_admin: model_admin.export_permission,
}


def _default_names(model_admin: ModelAdmin) -> set[str | None]:
    return {pattern.name for pattern in ModelAdmin.get_urls(model_admin)}


def custom_pages() -> list:
    pages = []
    for model_admin in registered():
        defaults = _default_names(model_admin)
        for pattern in model_admin.get_urls():
            if isinstance(pattern, URLPattern) and pattern.name not in defaults:
                pages.append(pytest.param(model_admin, pattern, id=pattern.name))
    return pages


def required_permission(model_admin: ModelAdmin, name: str) -> str:
    for known, permission in CUSTOM_PAGES.items():
        if re.fullmatch(known, name):
            return permission(model_admin)
    raise AssertionError(
        f"The custom admin page {name} is not in CUSTOM_PAGES: name the permission it needs"
    )


def factory_for(model):
    for value in vars(factories).values():
        if (
            isinstance(value, type)
            and issubclass(value, factory.django.DjangoModelFactory)
            and value._meta.model is model
        ):
            return value
    raise AssertionError(f"No factory for {model}")


def address(model_admin: ModelAdmin, pattern: URLPattern) -> str:
    """The page's address; an argument the pattern takes is an object of the model."""
    arguments = pattern.pattern.regex.groupindex
    if not arguments:
        return reverse(f"admin:{pattern.name}")
    obj = factory_for(model_admin.model)()
    return reverse(f"admin:{pattern.name}", args=[obj.pk] * len(arguments))


def staff_with(permissions) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.set(permissions)
    client = Client()
    client.force_login(user)
    return client


def test_the_walk_finds_the_custom_pages():
    names = {param.id for param in custom_pages()}
    assert "payments_payment_refund" in names


@pytest.mark.parametrize(("model_admin", "pattern"), custom_pages())
def test_a_custom_page_turns_away_staff_without_its_permission(model_admin, pattern):
    app_label, codename = required_permission(model_admin, pattern.name).split(".")
    needed = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    url = address(model_admin, pattern)

    without = staff_with(Permission.objects.exclude(pk=needed.pk)).get(url)
    granted = staff_with(Permission.objects.all()).get(url)

    assert without.status_code in (302, 403), without.status_code
    if without.status_code == 302:
        assert without.url != url  # sent elsewhere, not shown
    assert granted.status_code == 200
