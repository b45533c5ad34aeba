"""The support-block API: every variant, reader tokens, caching, CORS and the OpenAPI schema."""

import json
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from content import reader_tokens
from content.admin import embed_snippet
from content.api_cache import invalidate_support_cache
from tests.content.helpers import (
    article,
    article_with_extras,
    comp_member,
    gift_member,
    lapsed_member,
    one_time_donor,
)
from tests.factories import (
    PaidMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEWS = "https://news.example.org"
EVIL = "https://evil.example.com"


@pytest.fixture(autouse=True)
def _origins(settings):
    settings.SUPPORT_API_ALLOWED_ORIGINS = [NEWS]
    settings.CORS_ALLOWED_ORIGINS = [NEWS]


@pytest.fixture
def story():
    return article_with_extras(slug="night-shift", title="The night shift")


@pytest.fixture
def schema(client):
    return client.get("/api/openapi.json").json()


def block_url(slug: str) -> str:
    return f"/api/support-block/{slug}"


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def assert_matches_schema(schema: dict, component: str, data: dict) -> None:
    validator = Draft202012Validator(
        {"$ref": f"#/components/schemas/{component}", "components": schema["components"]}
    )
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors


def paid_member():
    return PaidMembershipFactory().user


# --- Variants --------------------------------------------------------------------------


def test_anonymous_reader_gets_the_public_ask_without_member_extras(client, story, schema):
    response = client.get(block_url(story.slug))

    assert response.status_code == 200
    data = response.json()
    assert data["variant"] == "ask"
    assert data["extras"] is None
    assert "behind the story" not in response.content.decode().lower()
    assert "reader's photo" not in response.content.decode()
    assert all(f"from={story.slug}" in link["url"] for link in data["links"])
    assert all(link["url"].startswith("http") for link in data["links"])
    assert response["Cache-Control"] == "public, max-age=60"
    assert response["ETag"].startswith('"')
    assert {"Cookie", "Authorization"} <= {v.strip() for v in response["Vary"].split(",")}
    assert_matches_schema(schema, "SupportBlockOut", data)


@pytest.mark.parametrize(
    ("make_reader", "variant"),
    [
        (one_time_donor, "donor"),
        (paid_member, "member"),
        (comp_member, "member"),
        (gift_member, "member"),
        (lapsed_member, "lapsed"),
    ],
    ids=["one-time-donor", "paid-member", "comp-member", "gift-member", "lapsed"],
)
def test_each_signed_in_reader_gets_their_variant_privately(make_reader, variant, story, schema):
    response = signed_in(make_reader()).get(block_url(story.slug))

    assert response.status_code == 200
    data = response.json()
    assert data["variant"] == variant
    assert response["Cache-Control"] == "private, no-store"
    assert "ETag" not in response
    assert {"Cookie", "Authorization"} <= {v.strip() for v in response["Vary"].split(",")}
    assert_matches_schema(schema, "SupportBlockOut", data)
    if variant == "member":
        assert data["extras"]["notes_html"] == "<p>A reader's photo started this story.</p>"
        assert [d["title"] for d in data["extras"]["documents"]] == ["The tender documents"]
    else:
        assert data["extras"] is None


def test_unknown_slug_still_answers_with_links_naming_it(client, schema):
    response = client.get(block_url("not-written-yet"))

    assert response.status_code == 200
    data = response.json()
    assert data["variant"] == "ask"
    assert data["links"]
    assert all("from=not-written-yet" in link["url"] for link in data["links"])
    assert_matches_schema(schema, "SupportBlockOut", data)


@pytest.mark.parametrize("slug", ["bad%20slug", "semi;colon", "x" * 201, "%3Cscript%3E"])
def test_a_slug_that_is_no_slug_is_refused_with_field_and_reason(client, slug, schema):
    response = client.get(block_url(slug))

    assert response.status_code == 400
    data = response.json()
    assert data["field"] == "slug"
    assert data["reason"]
    assert_matches_schema(schema, "ErrorOut", data)


# --- Caching ---------------------------------------------------------------------------


def test_anonymous_answer_is_served_from_the_cache_with_no_query(client, story):
    first = client.get(block_url(story.slug))

    with CaptureQueriesContext(connection) as queries:
        again = client.get(block_url(story.slug))

    assert len(queries) == 0, [q["sql"] for q in queries]
    assert again.status_code == 200
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


def test_anonymous_cache_hit_with_django_assert_num_queries(
    client, story, django_assert_num_queries
):
    client.get(block_url(story.slug))
    with django_assert_num_queries(0):
        assert client.get(block_url("night-shift")).status_code == 200


def test_matching_etag_answers_304_with_no_body_and_no_query(client, story):
    etag = client.get(block_url(story.slug))["ETag"]

    with CaptureQueriesContext(connection) as queries:
        response = client.get(block_url(story.slug), headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, max-age=60"
    assert len(queries) == 0
    other = client.get(block_url(story.slug), headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


def test_a_changed_article_is_not_served_from_the_cache(client, story):
    client.get(block_url(story.slug))

    story.published_at = timezone.now() + timedelta(days=1)  # unpublished: saved, cache dropped
    story.save()

    with CaptureQueriesContext(connection) as queries:
        assert client.get(block_url(story.slug)).status_code == 200
    assert len(queries) > 0


def test_invalidate_support_cache_drops_every_answer(client, story):
    client.get(block_url(story.slug))
    invalidate_support_cache()
    with CaptureQueriesContext(connection) as queries:
        client.get(block_url(story.slug))
    assert len(queries) > 0


def test_member_answer_costs_at_most_two_queries_beyond_authentication(story):
    user = paid_member()
    token = reader_tokens.issue(user, NEWS)
    headers = {"Authorization": f"Bearer {token}", "Origin": NEWS}
    browser = Client()
    browser.get(block_url(story.slug), headers=headers)  # the article is now cached

    with CaptureQueriesContext(connection) as queries:
        response = browser.get(block_url(story.slug), headers=headers)

    assert response.json()["variant"] == "member"
    sqls = [q["sql"] for q in queries]
    authentication = [s for s in sqls if 'FROM "members_user"' in s]
    assert len(authentication) == 1, sqls
    assert len(sqls) - len(authentication) <= 2, sqls


def test_member_answer_by_session_costs_at_most_two_queries_in_all(story):
    """The session comes from the cache (cached_db): the member's row and their
    memberships are the only queries."""
    browser = signed_in(paid_member())
    browser.get(block_url(story.slug))

    with CaptureQueriesContext(connection) as queries:
        response = browser.get(block_url(story.slug))

    assert response.json()["variant"] == "member"
    sqls = [q["sql"] for q in queries]
    assert not [s for s in sqls if 'FROM "django_session"' in s], sqls
    assert len(sqls) <= 2, sqls


# --- Reader tokens ---------------------------------------------------------------------


def token_client(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get("/")  # the CSRF cookie
    return browser


def ask_token(browser: Client, **kwargs):
    csrf = browser.cookies["csrftoken"].value
    return browser.post(
        "/api/reader-token",
        data=json.dumps(kwargs.pop("body", {})),
        content_type="application/json",
        headers={"X-CSRFToken": csrf, **kwargs.pop("headers", {})},
    )


def test_signed_in_reader_gets_a_token_that_names_them_on_that_origin(story, schema):
    user = paid_member()
    response = ask_token(token_client(user), body={"origin": NEWS})

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["origin"] == NEWS
    assert data["expires_in"] == 3600
    assert response["Cache-Control"] == "no-store"
    assert_matches_schema(schema, "ReaderTokenOut", data)

    answer = Client().get(
        block_url(story.slug),
        headers={"Authorization": f"Bearer {data['token']}", "Origin": NEWS},
    )
    assert answer.status_code == 200
    assert answer.json()["variant"] == "member"
    assert answer["Cache-Control"] == "private, no-store"
    assert answer["Access-Control-Allow-Origin"] == NEWS


def test_reader_token_needs_a_session_a_csrf_token_and_an_allowed_origin():
    guest = Client().post(
        "/api/reader-token", data=json.dumps({"origin": NEWS}), content_type="application/json"
    )
    assert guest.status_code == 401

    browser = token_client(UserFactory())
    no_csrf = browser.post(
        "/api/reader-token", data=json.dumps({"origin": NEWS}), content_type="application/json"
    )
    assert no_csrf.status_code == 403

    refused = ask_token(browser, body={"origin": EVIL})
    assert refused.status_code == 400
    assert refused.json()["field"] == "origin"
    assert ask_token(browser).status_code == 400


def test_token_is_bound_to_the_origin_that_asked_for_it(settings):
    settings.CSRF_TRUSTED_ORIGINS = [NEWS]
    browser = token_client(UserFactory())
    response = ask_token(browser, headers={"Origin": NEWS})
    assert response.status_code == 200, response.content
    assert response.json()["origin"] == NEWS
    mismatch = ask_token(browser, headers={"Origin": NEWS}, body={"origin": "https://other.org"})
    assert mismatch.status_code == 400


def refused(token: str, origin: str | None = NEWS, slug: str = "night-shift"):
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    response = Client().get(block_url(slug), headers=headers)
    assert response.status_code == 401, response.content
    assert response.json()["field"] == "Authorization"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "variant" not in response.json()
    return response.json()["reason"]


def test_expired_token_is_refused(story, monkeypatch):
    user = paid_member()
    issued_at = time.time() - 3601
    monkeypatch.setattr(signing.time, "time", lambda: issued_at)
    token = reader_tokens.issue(user, NEWS)
    monkeypatch.undo()

    assert "expired" in refused(token)


def test_forged_tokens_are_refused(story):
    user = paid_member()
    token = reader_tokens.issue(user, NEWS)
    value, _, signature = token.rpartition(":")
    refused(value + ":" + ("A" if signature[0] != "A" else "B") + signature[1:])
    # Signed with another salt (any other signed value of the site): not a reader token.
    other = signing.TimestampSigner(salt="something.else").sign_object(
        {"u": user.pk, "o": NEWS, "h": ""}
    )
    refused(other)
    refused("not-a-token")
    response = Client().get(block_url(story.slug), headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


def test_token_used_from_another_origin_is_refused(story):
    token = reader_tokens.issue(paid_member(), NEWS)
    assert "another origin" in refused(token, origin=EVIL)
    refused(token, origin=None)


def test_token_for_an_origin_no_longer_allowed_is_refused(story, settings):
    token = reader_tokens.issue(paid_member(), NEWS)
    settings.SUPPORT_API_ALLOWED_ORIGINS = []
    refused(token)


def test_token_ends_with_a_password_change(story):
    user = paid_member()
    token = reader_tokens.issue(user, NEWS)
    user.set_password("another long passphrase")
    user.save()
    refused(token)


def test_a_token_request_ignores_the_session(story):
    """A bad token is refused even when the browser also sends a member's session."""
    browser = signed_in(paid_member())
    response = browser.get(
        block_url(story.slug), headers={"Authorization": "Bearer forged", "Origin": NEWS}
    )
    assert response.status_code == 401


# --- CORS ------------------------------------------------------------------------------


def test_cors_headers_only_for_allowed_origins_and_only_on_the_api(client, story):
    allowed = client.get(block_url(story.slug), headers={"Origin": NEWS})
    assert allowed["Access-Control-Allow-Origin"] == NEWS
    assert allowed["Access-Control-Allow-Credentials"] == "true"

    other = client.get(block_url(story.slug), headers={"Origin": EVIL})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other

    page = client.get(f"/articles/{story.slug}/", headers={"Origin": NEWS})
    assert "Access-Control-Allow-Origin" not in page


def test_preflight_for_a_bearer_token_is_answered_for_allowed_origins(client):
    headers = {
        "Origin": NEWS,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    response = client.options(block_url("night-shift"), headers=headers)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == NEWS
    assert "authorization" in response["Access-Control-Allow-Headers"]

    evil = client.options(block_url("night-shift"), headers={**headers, "Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in evil


# --- The schema ------------------------------------------------------------------------


def test_openapi_schema_is_served_and_valid(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate_spec(spec)
    assert "/api/support-block/{slug}" in spec["paths"]
    assert "/api/reader-token" in spec["paths"]
    block = spec["components"]["schemas"]["SupportBlockOut"]
    assert set(block["required"]) >= {"variant", "heading", "text", "links", "extras"}


def test_api_docs_page_loads_only_this_sites_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn" not in page.lower()
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- The admin snippet -----------------------------------------------------------------


def test_admin_shows_the_embed_snippet_for_each_article(staff_client, settings):
    settings.SITE_URL = "https://support.example.org"
    story = article(slug="budget-hearing", title="The budget hearing")

    page = staff_client.get(f"/admin/content/article/{story.pk}/change/").content.decode()

    snippet = (
        "&lt;script src=&quot;https://support.example.org/static/js/embed.js&quot; "
        "data-article=&quot;budget-hearing&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in page
    assert str(embed_snippet("budget-hearing")) == (
        '<script src="https://support.example.org/static/js/embed.js" '
        'data-article="budget-hearing" async></script>'
    )


def test_anonymous_answer_carries_the_live_campaign_meter(client, story, schema):
    from content.models import Campaign

    Campaign.objects.create(
        name="1,000 by our birthday", slug="birthday", goal=1000, new_members=250
    )
    invalidate_support_cache()

    data = client.get(block_url(story.slug)).json()

    assert data["campaign"]["slug"] == "birthday"
    assert data["campaign"]["percent"] == 25
    assert all("campaign=birthday" in link["url"] for link in data["links"])
    assert_matches_schema(schema, "SupportBlockOut", data)
