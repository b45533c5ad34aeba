"""Fixtures of the fault tests (issue 14): the site in processes of its own with every
dependency breakable (tests/support/site_stack.py), one per test process, started
when a test first needs it and stopped after the last.

Needs PostgreSQL (DATABASE_URL), a broker (CELERY_BROKER_URL) and redis-server:
without them the tests that use the stack are skipped, except in CI, where a missing
piece fails them.
"""

from collections.abc import Iterator

import pytest

from tests.support.site_stack import SiteStack, require_real_stack


@pytest.fixture(scope="package")
def _site_stack(
    django_db_setup, django_db_blocker, localstripe, tmp_path_factory
) -> Iterator[SiteStack]:
    require_real_stack()
    stack = SiteStack(localstripe, tmp_path_factory.mktemp("site-stack"))
    try:
        stack.start()
        yield stack
    finally:
        with django_db_blocker.unblock():  # to see the stack's sessions end
            stack.stop()


@pytest.fixture
def site_stack(_site_stack, transactional_db) -> Iterator[SiteStack]:
    """The stack, everything up, on the test database (committed, so both see it)."""
    _site_stack.heal()
    _site_stack.begin_test()
    yield _site_stack
    # Nothing left running or queued when the database is emptied after the test.
    _site_stack.heal()
    _site_stack.wait_until(_site_stack.idle)
