"""Journey 1 in a real browser: a guest gives once from an article, by card (3-D Secure
included), lands on the thank-you page and gets a receipt."""

import re
import time

import pytest
from playwright.sync_api import expect

from payments.stripe_gateway.errors import DECLINED
from tests.browser.conftest import on_the_site
from tests.support.stripejs import CARD_3DS, CARD_DECLINED_ON_CHARGE, CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTICLE = "grain-corridor-ports"  # one of demo_data's articles
THANKS = re.compile(r"/give/[0-9a-f-]+/thanks")


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


@pytest.mark.parametrize("card", [CARD_OK, CARD_3DS], ids=["card", "3-D Secure card"])
def test_a_guest_gives_once_from_an_article_and_gets_a_receipt(page, stack, card):
    email = f"browser.guest.{card[-4:]}@example.org"
    page.goto(f"/articles/{ARTICLE}/")
    page.locator(".support-block").get_by_role("link", name="Support us just once").click()
    expect(page.get_by_text("You are giving after reading")).to_contain_text(
        "Inside the ports that keep the grain moving"
    )

    page.get_by_label("Email").fill(email)
    fill_card(page, card)
    page.locator("#give-button").click()
    challenges = answer_challenges(page, until=THANKS)

    assert challenges == (0 if card == CARD_OK else 1)  # the bank checks once per payment
    expect(page.locator("h1")).to_contain_text("Thank")
    (receipt,) = stack.mail.wait_for(email, "receipt", timeout=60)
    assert "Receipt" in receipt.subject or "receipt" in receipt.subject
    assert ledger_of(stack, email) == [f"one_time {ARTICLE}"]  # attributed to the article


def test_a_declined_card_is_told_in_our_words_and_another_card_pays_the_same_gift(page, stack):
    email = "browser.declined@example.org"
    page.goto("/give/")
    page.get_by_label("Email").fill(email)
    fill_card(page, CARD_DECLINED_ON_CHARGE)
    page.locator("#give-button").click()

    card_error = page.locator('[data-error-for="card"]')
    expect(card_error).to_have_text(DECLINED)
    expect(card_error).to_be_focused()  # the reader is taken to what failed
    assert gifts_of(stack, email) == ["failed 1"]  # one card tried
    assert ledger_of(stack, email) == []  # nothing charged, nothing in the books

    fill_card(page, CARD_OK)
    page.locator("#give-button").click()
    answer_challenges(page, until=THANKS)
    assert gifts_of(stack, email) == ["succeeded 2"]  # the same gift, on its second card
    stack.mail.wait_for(email, "receipt", timeout=60)
    assert ledger_of(stack, email) == ["one_time -"]  # one payment, from no article


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
