"""Browser tests: Debian's chromium, driven by Playwright, against the whole stack.

The stack is the chaos simulation's (bench/simulation/stack.py), calm: gunicorn with
production settings on a fresh PostgreSQL database, a Celery worker, the Stripe
emulator (whose Stripe.js the pages load) and a mail server that keeps what the site
sends. One stack per test process; `make test` runs these tests in a process of their
own, after the rest (`-m browser`).

Needs: /usr/bin/chromium (Debian's `chromium`), the `playwright` package (dev
dependencies), PostgreSQL and redis-server; axe-core, for the accessibility checks, is
vendored in tests/browser/vendor/. Without them the tests are skipped, except in CI
(`CI=1`), where a missing piece fails the run.
"""

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Vendored from npm at the version tests/browser/package.json pins (`make vendor-axe`)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# What the tests saw, shown in the README; rewritten on every run, committed when changed
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STAFF_EMAIL, STAFF_PASSWORD = "browser-staff@example.org", "browser staff password 2026"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def missing(what: str) -> None:
    """Skip, or fail in CI, where every piece must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"Browser tests need {what}", pytrace=False)
    pytest.skip(f"Browser tests need {what}")


@pytest.fixture(scope="session")
def stack() -> Iterator:
    if shutil.which("redis-server") is None:
        missing("redis-server")
    from bench.simulation.stack import Stack

    try:
        import psycopg

        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=3).close()
    except Exception:
        missing("PostgreSQL on 127.0.0.1:5432")
    running = Stack(seed=0, web_workers=1, calm=True).start()
    try:
        running.manage("demo_data", "--no-ledger")
        on_the_site(
            running,
            "from allauth.account.models import EmailAddress\n"
            "from members.models import User\n"
            f"u = User.objects.create_superuser({STAFF_EMAIL!r}, {STAFF_PASSWORD!r})\n"
            "EmailAddress.objects.create(user=u, email=u.email, verified=True, primary=True)",
        )
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        missing(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package (make install)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, stack):
    """A fresh browser context (no cookies) at desktop size, on the stack's site."""
    with fresh_page(chromium, stack) as opened:
        yield opened


@contextlib.contextmanager
def fresh_page(chromium, stack) -> Iterator:
    """A page in a browser context of its own (no cookies), closed after the block."""
    context = chromium.new_context(viewport=DESKTOP, base_url=stack.site)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def axe_violations(page, *, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's serious and critical WCAG 2.x A/AA violations on the page as it is.

    `exclude`: selectors left out (the emulator's card fields stand in for Stripe's
    iframe, which Stripe makes accessible, not us)."""
    if not AXE.exists():
        missing(f"axe-core at {AXE} (make vendor-axe)")
    # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses a script tag
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        """async ([exclude, WCAG_TAGS]) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            return await axe.run(context, {
                runOnly: {type: "tag", values: WCAG_TAGS},
            });
        }""",
        [exclude or [], ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]],
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def on_the_site(stack, code: str) -> list[str]:
    """Run Python in the site's own Django (`manage.py shell`); the lines it printed."""
    return stack.manage("shell", "--no-imports", "-c", code).strip().splitlines()


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """The page as the reader sees it now, as docs/screenshots/<name>.png (the README
    shows these). Caret and animations are held still so an unchanged page makes the
    same file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=SCREENSHOTS / f"{name}.png", full_page=full_page, animations="disabled", caret="hide"
    )


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
