"""What a reader is told before paying, as the page says it (issue 13, item 3), and a gift
membership bought from the header's link (journey 9)."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.browser.steps import answer_challenges, fill_card
from tests.support.stripejs import CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_the_give_page_states_the_fee_cover_and_the_total_before_paying(page):
    page.goto("/give/")
    page.get_by_label("Currency").select_option("USD")
    page.locator("#id_amount").fill("10")
    expect(page.locator("#give-button")).to_have_text("Give $10")

    page.locator("#id_cover_fees").check()

    # $10 arriving after Stripe's 2.9% + 30¢ (the defaults): $10.61 charged
    expect(page.locator("#fee-text")).to_have_text("Add $0.61 to cover card fees — total $10.61")
    expect(page.locator("#give-button")).to_have_text("Give $10.61")


def test_the_join_page_says_what_is_charged_per_month_or_year(page):
    page.goto("/join/?currency=USD")
    button = page.locator("#join-button")
    expect(button).to_have_text(re.compile(r"^Join for \$\d+(\.\d\d)? a month$"))

    page.locator("#id_amount").fill("12")
    expect(button).to_have_text("Join for $12 a month")
    page.get_by_label("Yearly").check()
    expect(button).to_have_text(re.compile(r"a year$"))


def test_a_gift_membership_is_bought_from_the_headers_link(page, stack):
    page.goto("/")
    page.get_by_role("link", name="Give a membership").first.click()
    expect(page.locator("h1")).to_contain_text("membership")

    page.get_by_label("How long").select_option("3")
    page.get_by_label("Currency").select_option("USD")
    expect(page.locator("#gift-button")).to_have_text(re.compile(r"^Give 3 months for \$"))
    page.get_by_label("Their email").fill("browser.friend@example.org")
    page.get_by_label("Send it on").fill(date.today().isoformat())
    page.get_by_label("Your email").fill("browser.giver@example.org")
    page.get_by_label("Your name").fill("Jo Giver")
    fill_card(page, CARD_OK)
    page.locator("#gift-button").click()
    answer_challenges(page, until=re.compile(r"/gift/[0-9a-f-]+/thanks"))

    expect(page.locator("main")).to_contain_text("3-month membership")
    (invite,) = stack.mail.wait_for("browser.friend@example.org", "gave you", timeout=60)
    assert "/gift/claim/" in invite.text
