"""Journey 1 in a real browser: a guest gives once from an article, by card (3-D Secure
included), lands on the thank-you page and gets a receipt."""

import pytest
from playwright.sync_api import expect

from payments.stripe_gateway.errors import DECLINED
from tests.browser.steps import ARTICLE, THANKS, answer_challenges, fill_card, gifts_of, ledger_of
from tests.support.stripejs import CARD_3DS, CARD_DECLINED_ON_CHARGE, CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]


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
