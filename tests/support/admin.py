"""Staff in admin, for tests: a signed-in client with exactly the permissions named, and
what a changelist shows."""

from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse
from django.test import Client

from tests.factories import UserFactory


def staff_member(*permissions: str, superuser: bool = False):
    """A staff user holding `permissions` ("app_label.codename") and their signed-in client."""
    user = UserFactory(is_staff=True, is_superuser=superuser)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return user, client


def staff(*permissions: str, superuser: bool = False) -> Client:
    return staff_member(*permissions, superuser=superuser)[1]


def listed(response) -> list[int]:
    """The primary keys a changelist page shows, sorted."""
    assert response.status_code == 200, response.status_code
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def csv_lines(response) -> list[str]:
    """A streamed CSV export's lines."""
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode().splitlines()
