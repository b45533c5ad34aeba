"""Journey 2 in a real browser: a new reader joins from an article in one page (a level
card, monthly, their email, the card; no password), lands on the welcome page and gets a
welcome email that signs them in with a code."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import ARTICLE, WELCOME, answer_challenges, fill_card
from tests.support.stripejs import CARD_3DS, CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_a_new_reader_joins_from_an_article_in_one_page_without_a_password(page, stack):
    email = "browser.joiner@example.org"
    page.goto(f"/join/?from={ARTICLE}&currency=EUR")
    expect(page.get_by_text("Inside the ports that keep the grain moving")).to_be_visible()
    # The middle level is chosen; each card says its price in euros a month, nothing else.
    expect(page.get_by_role("radio", name=re.compile("Insider"))).to_be_checked()
    expect(page.locator('[data-price-for="insider"]')).to_have_text("€10 a month")

    # A card is chosen by clicking anywhere on it; the amount and the button follow.
    page.locator(".card.level", has_text="Champion").click()
    expect(page.get_by_role("radio", name=re.compile("Champion"))).to_be_checked()
    expect(page.locator("#join-button")).to_have_text("Join for €25 a month")
    page.get_by_label("Yearly").check()  # the level chosen stays chosen, at its yearly price
    expect(page.get_by_role("radio", name=re.compile("Champion"))).to_be_checked()
    expect(page.locator('[data-price-for="champion"]')).to_have_text("€250 a year")
    expect(page.locator("#join-button")).to_have_text("Join for €250 a year")
    page.get_by_label("Monthly").check()
    # By keyboard: the arrow keys move between the cards, choosing as they go.
    page.get_by_role("radio", name=re.compile("Champion")).focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("radio", name=re.compile("Supporter"))).to_be_checked()
    expect(page.locator("#join-button")).to_have_text("Join for €5 a month")

    page.get_by_label("Your email").fill(email)
    fill_card(page, CARD_OK)
    page.locator("#join-button").click()
    answer_challenges(page, until=WELCOME)

    expect(page.locator("h1")).to_contain_text("Welcome")
    expect(page.get_by_text(f"once you sign in as {email}")).to_be_visible()
    (welcome,) = stack.mail.wait_for(email, "Welcome", timeout=60)
    assert "/accounts/login/code/?email=browser.joiner%40example.org" in welcome.text


def test_a_new_reader_joins_with_a_3d_secure_card_after_one_challenge(page, stack):
    email = "browser.joiner.3ds@example.org"
    page.goto(f"/join/?from={ARTICLE}")
    page.get_by_label("Your email").fill(email)
    fill_card(page, CARD_3DS)
    page.locator("#join-button").click()
    challenges = answer_challenges(page, until=WELCOME)

    assert challenges == 1  # the first invoice's own check, nothing before it
    expect(page.locator("h1")).to_contain_text("Welcome")
    stack.mail.wait_for(email, "Welcome", timeout=60)
