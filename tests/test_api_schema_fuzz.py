"""The support API fuzzed against its own OpenAPI schema (schemathesis).

The schema is the one the site serves at /api/openapi.json, loaded through the site's
own WSGI application (config.wsgi, with its middleware: sessions, CSRF, CORS), and every
operation in it is called with input hypothesis generates from it: any slug, header or
body. Every answer must be one the schema documents (status code, content type, body),
and none a server error. The readers asking: an anonymous one, and a paying member both
by session (with a CSRF token, so POST /api/reader-token gets past its checks) and by a
reader token from an allowed origin.

Bounded for CI: a fixed number of examples per operation, derandomized (the same inputs
every run), no per-example deadline and no example database.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from content import reader_tokens
from tests.content.helpers import article_with_extras
from tests.factories import PaidMembershipFactory

NEWS = "https://news.example.org"
STORY = "night-shift"
# 32 letters: an unmasked CSRF secret, sent as both the cookie and the header.
CSRF_SECRET = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"

FUZZ = hypothesis_settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


# Fetched from the application once, at collection (no database needed to build it).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture(autouse=True)
def _site(db, settings) -> Iterator[None]:
    """An allowed origin, an article with member extras, and the site answering inside
    this test's database transaction."""
    settings.SUPPORT_API_ALLOWED_ORIGINS = [NEWS]
    settings.CORS_ALLOWED_ORIGINS = [NEWS]
    article_with_extras(slug=STORY)
    # The WSGI handler closes "old" connections around each request, which inside the
    # test's transaction would end it; Django's test client keeps them open the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call_and_validate(case, **kwargs) -> None:
    """Call as generated, then (for the support block) about an article that exists."""
    if case.operation.definition.raw.get("operationId") == "reader_token":
        # A schema-valid body still gets 400 when it names no origin, or one the newsroom
        # does not allow: a rule of configuration that the schema cannot state.
        kwargs["excluded_checks"] = [positive_data_acceptance]
    case.call_and_validate(**kwargs)
    if "slug" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "slug": STORY}
        case.call_and_validate(**kwargs)


@pytest.fixture
def member_session() -> dict:
    """A paying member's session cookie and CSRF token, as their browser sends them."""
    browser = Client()
    browser.force_login(PaidMembershipFactory().user)
    return {
        "cookies": {
            django_settings.SESSION_COOKIE_NAME: browser.cookies[
                django_settings.SESSION_COOKIE_NAME
            ].value,
            django_settings.CSRF_COOKIE_NAME: CSRF_SECRET,
        },
        "headers": {"X-CSRFToken": CSRF_SECRET},
    }


@pytest.fixture
def member_token() -> dict:
    """A paying member's reader token, sent from the origin it was issued to."""
    user = PaidMembershipFactory().user
    return {
        "headers": {"Authorization": f"Bearer {reader_tokens.issue(user, NEWS)}", "Origin": NEWS}
    }


@schema.parametrize()
@FUZZ
def test_every_operation_answers_as_documented_to_an_anonymous_reader(case):
    call_and_validate(case)


@schema.parametrize()
@FUZZ
def test_every_operation_answers_as_documented_to_a_member_by_session(case, member_session):
    call_and_validate(case, **member_session)


@schema.parametrize()
@FUZZ
def test_every_operation_answers_as_documented_to_a_member_by_reader_token(case, member_token):
    call_and_validate(case, **member_token)
