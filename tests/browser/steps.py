"""Steps every browser journey takes: the pages' addresses, the card typed into the
emulator's card element, the bank's 3-D Secure challenges answered, and what the site
recorded (read with `on_the_site`)."""

import re
import time

from tests.browser.conftest import on_the_site

ARTICLE = "grain-corridor-ports"  # one of demo_data's articles
THANKS = re.compile(r"/give/[0-9a-f-]+/thanks")
WELCOME = re.compile(r"/join/[0-9a-f-]+/welcome")


def answer_challenges(page, *, until: re.Pattern, timeout: float = 30) -> int:
    """Complete each 3-D Secure challenge the emulator's Stripe.js shows until the page
    reaches `until`; how many there were."""
    challenges = 0
    deadline = time.monotonic() + timeout
    complete = page.get_by_role("button", name="Complete authentication")
    while not until.search(page.url):
        assert time.monotonic() < deadline, f"still on {page.url}"
        if complete.count() and complete.first.is_visible():
            complete.first.click()
            challenges += 1
            page.wait_for_timeout(300)
        else:
            page.wait_for_timeout(100)
    page.wait_for_load_state()
    return challenges


def fill_card(page, number: str) -> None:
    """The emulator's card element (Stripe's own is an iframe): its fields by name."""
    for field, value in [
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "01001"),
    ]:
        page.locator(f"input[placeholder={field}]").fill(value)


def gifts_of(stack, email: str) -> list[str]:
    """Each gift of `email` on the site, as "<status> <card attempts>"."""
    return on_the_site(
        stack,
        "from payments.models import Donation\n"
        f"for d in Donation.objects.filter(donor__email={email!r}).order_by('created_at'):\n"
        "    print(d.status, d.attempts)",
    )


def ledger_of(stack, email: str) -> list[str]:
    """Each ledger row of `email`'s payments, as "<kind> <article it came from or ->"."""
    return on_the_site(
        stack,
        "from payments.models import Payment\n"
        f"for p in Payment.objects.filter(donor__email={email!r}).order_by('paid_at'):\n"
        "    print(p.kind, p.article_slug or '-')",
    )
