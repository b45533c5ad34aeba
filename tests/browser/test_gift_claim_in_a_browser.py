"""Journey 9's other half in a real browser: the recipient of a gift membership opens the
link in their email, creates an account to claim it, and ends a member (their account
says so, and the article under which they read shows them the member's block)."""

import re
from datetime import date
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations
from tests.browser.steps import ARTICLE, answer_challenges, fill_card
from tests.support.stripejs import CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

GIVER, RECIPIENT = "browser.claim.giver@example.org", "browser.claim.friend@example.org"
PASSWORD = "a long claim password 2026"


def link_in(text: str, path: str) -> str:
    """The path (and query) of the first link in an email's text whose path has `path`."""
    links = [u for u in re.findall(r"https?://\S+", text) if path in urlsplit(u).path]
    assert links, f"no {path} link in {text!r}"
    parts = urlsplit(links[0])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def buy_gift_membership(page, stack, *, giver: str, recipient: str) -> str:
    """A 3-month gift bought from the header's link (as in test_prices_and_gifts); the
    claim link's path, from the email the recipient gets."""
    page.goto("/")
    page.get_by_role("link", name="Give a membership").first.click()
    page.get_by_label("How long").select_option("3")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Their email").fill(recipient)
    page.get_by_label("Send it on").fill(date.today().isoformat())
    page.get_by_label("Your email").fill(giver)
    page.get_by_label("Your name").fill("Jo Giver")
    fill_card(page, CARD_OK)
    page.locator("#gift-button").click()
    answer_challenges(page, until=re.compile(r"/gift/[0-9a-f-]+/thanks"))
    expect(page.locator("main")).to_contain_text("3-month membership")
    (invite,) = stack.mail.wait_for(recipient, "gave you", timeout=60)
    return link_in(invite.text, "/gift/claim/")


def test_the_recipient_of_a_gift_creates_an_account_from_the_email_and_becomes_a_member(
    page, stack
):
    """Signed out, the claim link leads to sign-up (email filled in), the confirmation
    brings them back to the gift, one click claims it."""
    claim = buy_gift_membership(page, stack, giver=GIVER, recipient=RECIPIENT)
    page.context.clear_cookies()  # the recipient, on their own browser

    page.goto(claim)
    expect(page.locator("h1")).to_contain_text("from Jo Giver")
    expect(page.locator("main")).to_contain_text("3 months of")
    expect(page.locator("main")).to_contain_text(RECIPIENT)
    assert axe_violations(page, exclude=["#card-element"]) == []

    page.get_by_role("link", name="Create an account").click()
    expect(page.locator("h1")).to_have_text("Create your account")
    expect(page.get_by_label("Email")).to_have_value(RECIPIENT)  # from the claim link
    assert axe_violations(page, exclude=["#card-element"]) == []
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label(re.compile("Password \\(again\\)|Confirm", re.I)).fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")

    (confirm,) = stack.mail.wait_for(RECIPIENT, "Confirm your email", timeout=60)
    page.goto(link_in(confirm.text, "/accounts/confirm-email/"))
    assert axe_violations(page, exclude=["#card-element"]) == []
    page.get_by_role("button", name="Yes, confirm my email").click()

    # Signed in by the confirmation, and back on the gift they came for
    expect(page).to_have_url(re.compile(re.escape(claim) + "$"))
    expect(page.locator("main")).to_contain_text(f"It will be added to the account {RECIPIENT}")
    assert axe_violations(page, exclude=["#card-element"]) == []
    page.get_by_role("button", name="Claim my membership").click()

    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.get_by_text("Your gift membership is active until")).to_be_visible()
    gift = page.locator("#membership .membership", has_text="Gift membership from Jo Giver")
    expect(gift).to_contain_text("Active")
    expect(page.get_by_role("link", name="Become a member")).to_have_count(0)
    assert axe_violations(page, exclude=["#card-element"]) == []

    page.goto(f"/articles/{ARTICLE}/")
    expect(page.locator(".support-block")).to_have_attribute("data-variant", "member")

    page.goto(claim)  # the link again: theirs, and claimed
    expect(page.locator("main")).to_contain_text("You have claimed this gift")
