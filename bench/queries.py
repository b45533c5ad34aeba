"""SQL queries per request, counted in this process with Django's test client against
the bench's database and cache (the site's settings, as gunicorn has them).

The page is requested once to warm what a long-running server has warm (caches,
content types, the anonymous support block), then once more with the queries captured.
"""


def queries_for(path: str, *, user=None, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """(status, queries) of the second GET of `path`, signed in as `user` if given."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    if user is not None:
        client.force_login(user)
    client.get(path, headers=headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    return response.status_code, len(captured)


def session_cookie(user) -> str:
    """A `Cookie:` header value that signs `user` in (a real session in the database)."""
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
