"""The support-block API (GET /api/support-block/<slug>, content/api.py), the hottest
path: for an anonymous reader and for a signed-in member, as requests/s relative to
the ceiling view measured just before each, and the queries per request.

The article is one demo_data published. The member is made in-process (an active paid
membership, tests/factories.py) and signed in with a real session; wrk sends its
session cookie on every request (`-H "Cookie: sessionid=..."`). Queries are counted
in-process (bench/queries.py): after a warm-up request, so the anonymous answer comes
from the cache as it does under load.
"""

from bench.context import Bench
from bench.queries import queries_for, session_cookie
from bench.report import Row

TARGET = 0.70
ANONYMOUS_QUERIES, MEMBER_QUERIES = 0, 2


def article_slug() -> str:
    from content.selectors import published_articles

    article = published_articles().order_by("pk").first()
    return article.slug if article else "no-such-article"


def make_member():
    """A signed-in member with an active paid membership."""
    from tests.factories import PaidMembershipFactory, UserFactory

    user = UserFactory(email="bench-member@example.org")
    PaidMembershipFactory(user=user)
    return user


def run_api(bench: Bench) -> None:
    path = f"/api/support-block/{article_slug()}"
    member = make_member()
    cookie = session_cookie(member)
    for who, user, headers, most in (
        ("anonymous", None, {}, ANONYMOUS_QUERIES),
        ("member", member, {"Cookie": cookie}, MEMBER_QUERIES),
    ):
        figure = f"support-block API ({who})"
        target = f">= {TARGET:.2f}, <= {most} queries"
        if not bench.expect_ok(path, headers=headers):
            bench.report.add(Row(figure, "failed", target=target))
            continue
        status, queries = queries_for(path, user=user)
        if status != 200:
            bench.report.fail(f"{figure} in-process answered {status}")
        bench.against_ceiling(
            figure,
            lambda headers=headers: bench.wrk(path, headers=headers),
            at_least=TARGET,
            extra=f"{queries} {'query' if queries == 1 else 'queries'}",
            target=target,
            met=lambda met, queries=queries, most=most: (
                None if met is None else met and queries <= most
            ),
        )
