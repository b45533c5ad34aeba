"""Journeys 2 and 5 in a real browser, for one reader: they join as a guest from an
article, sign in with the code the welcome email offers, read the article as a member
(no ask, the member's block), then manage the membership from their account page:
a new amount, yearly with the charge shown before paying, a new card (3-D Secure),
cancel with a reason, resume."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    axe_violations,
    fresh_page,
    on_the_site,
    screenshot,
)
from tests.browser.steps import ARTICLE, answer_challenges, fill_card
from tests.support.stripejs import CARD_3DS, CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

EMAIL = "browser.member@example.org"
WELCOME = re.compile(r"/join/[0-9a-f-]+/welcome")
ACCOUNT = re.compile(r"/account/$")
CODE_LINK = re.compile(r"https?://\S+/accounts/login/code/\?email=\S+")
CODE = re.compile(r"^\s*([A-Z0-9]{3,5}-?[A-Z0-9]{3,5})\s*$", re.MULTILINE)
DATE = r"\d{1,2} [A-Z][a-z]+ \d{4}"  # "26 December 2026"


def no_violations(page) -> None:
    """axe finds nothing serious on the page as it is (the card fields are Stripe's)."""
    assert axe_violations(page, exclude=["#card-element"]) == [], page.url


def membership_of(stack, email: str) -> dict:
    """The reader's membership as the site holds it."""
    printed = on_the_site(
        stack,
        "import json\n"
        "from members.models import Membership\n"
        f"m = Membership.objects.get(email={email!r})\n"
        "print(json.dumps({'status': m.status, 'amount': m.amount, 'currency': m.currency,\n"
        "    'interval': m.interval, 'cancel_at_period_end': m.cancel_at_period_end,\n"
        "    'cancel_category': m.cancel_category, 'cancel_reason': m.cancel_reason,\n"
        "    'user': m.user.email if m.user else None}))",
    )
    return json.loads(printed[-1])


def stripe_subscription_of(stack, email: str) -> dict:
    """The reader's subscription as Stripe (the emulator) holds it: its plan, whether it
    renews, and the last four digits of the card it charges."""
    printed = on_the_site(
        stack,
        "import json\n"
        "from members.models import Membership\n"
        "from payments.stripe_gateway.transport import client\n"
        f"m = Membership.objects.get(email={email!r})\n"
        "s = client().v1.subscriptions.retrieve(m.stripe_subscription_id).to_dict()\n"
        "plan = s['items']['data'][0].get('plan') or s['items']['data'][0]['price']\n"
        "pm = s.get('default_payment_method')\n"
        "pm = pm['id'] if isinstance(pm, dict) else pm\n"
        "card = client().v1.payment_methods.retrieve(pm).to_dict()['card'] if pm else {}\n"
        "print(json.dumps({'amount': plan.get('amount') or plan.get('unit_amount'),\n"
        "    'interval': plan.get('interval') or plan['recurring']['interval'],\n"
        "    'cancel_at_period_end': s['cancel_at_period_end'],\n"
        "    'card_last4': card.get('last4')}))",
    )
    return json.loads(printed[-1])


def join_as_a_guest_and_sign_in_by_the_emailed_code(page, stack, email: str) -> None:
    """Journey 2: join from the article in one page (the middle level, monthly, the
    email, a card), then sign in with the code the welcome email's link asks for."""
    page.goto(f"/join/?from={ARTICLE}&currency=USD")
    expect(page.get_by_role("radio", name=re.compile("Insider"))).to_be_checked()
    expect(page.locator("#join-button")).to_have_text("Join for $10 a month")
    page.get_by_label("Your email").fill(email)
    fill_card(page, CARD_OK)
    page.locator("#join-button").click()
    answer_challenges(page, until=WELCOME)
    expect(page.locator("h1")).to_contain_text("Welcome")
    expect(page.get_by_text(f"once you sign in as {email}")).to_be_visible()
    no_violations(page)

    (welcome,) = stack.mail.wait_for(email, "Welcome", timeout=60)
    link = CODE_LINK.search(welcome.text)
    assert link, welcome.text
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Sign in with a code")).to_be_visible()
    expect(page.get_by_label("Your email")).to_have_value(email)  # filled in from the link
    no_violations(page)
    page.get_by_role("button", name="Email me a code").click()

    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    expect(page.get_by_text(f"We have emailed a code to {email}")).to_be_visible()
    no_violations(page)
    (sent,) = stack.mail.wait_for(email, "sign-in code", timeout=60)
    code = CODE.search(sent.text)
    assert code, sent.text
    page.get_by_label("The code from the email").fill(code.group(1))
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(ACCOUNT)  # signed in, on their own page
    expect(page.locator(".messages")).to_contain_text(f"Successfully signed in as {email}")
    expect(page.get_by_text(f"Signed in as {email}.", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def member(chromium, stack):
    """One browser, one reader who joined as a guest and signed in by the emailed code;
    the tests below share them (one join for the whole journey)."""
    with fresh_page(chromium, stack) as page:
        join_as_a_guest_and_sign_in_by_the_emailed_code(page, stack, EMAIL)
        yield page


def test_a_guest_who_joined_signs_in_by_the_emailed_code_and_reads_as_a_member(member, stack):
    """The code sign-in gives the account the join made; the article then shows the
    member's block: thanks with the level, their account, and no donation ask."""
    page = member
    assert membership_of(stack, EMAIL)["user"] == EMAIL  # the account the join made
    expect(page.locator("#membership")).to_contain_text("Active")

    page.goto(f"/articles/{ARTICLE}/")
    block = page.locator("aside.support-block")
    expect(block).to_have_attribute("data-variant", "member")
    expect(block.get_by_role("heading")).to_have_text("Thank you for being a member")
    expect(block).to_contain_text(re.compile(rf"You have been a member since {DATE} \(Insider\)"))
    expect(block.get_by_role("link", name="Your membership")).to_have_attribute("href", "/account/")
    # The guest's ask is gone: no join, no one-off gift, in the block or the masthead.
    expect(block.get_by_role("link", name="Become a member")).to_have_count(0)
    expect(block.get_by_role("link", name="Support us just once")).to_have_count(0)
    expect(block).not_to_contain_text("No paywall, ever")
    expect(
        page.locator("header.masthead").get_by_role("link", name="Become a member")
    ).to_have_count(0)
    expect(page.locator(".member-hint")).to_have_count(0)  # no "members also get" pitch
    no_violations(page)
    screenshot(page, "article-member")

    # An article with notes behind the story shows them to members, tagged as theirs.
    page.goto("/articles/investigation-procurement/")
    extras = page.locator("section.member-extras")
    expect(extras.get_by_role("heading", name="Behind the story For members")).to_be_visible()
    expect(extras.get_by_role("heading", name="Documents")).to_be_visible()
    expect(extras.get_by_role("link", name=re.compile("Tender documents"))).to_be_visible()
    no_violations(page)


def test_a_member_changes_the_amount_goes_yearly_updates_the_card_cancels_and_resumes(
    member, stack
):
    """Journey 5 from the account page; each step shows on the page and in Stripe."""
    page = member
    page.goto("/account/")
    membership = page.locator("#membership")
    expect(membership).to_contain_text("Monthly membership")
    expect(membership).to_contain_text("Insider")
    expect(membership).to_contain_text("$10.00 a month")
    expect(membership).to_contain_text(re.compile(rf"Next payment\s*{DATE}"))
    expect(membership).to_contain_text(f"Visa ending {CARD_OK[-4:]}")  # the card it joined with
    no_violations(page)
    screenshot(page, "account")

    # Yearly: what is charged today, and then every year, is said before paying; the
    # charge is the one said. (First, while no change of this month is pending: the
    # emulator has no invoice preview, so the page works the price out itself.)
    page.get_by_role("link", name="Change your amount or how often you pay").click()
    expect(page.locator("h1")).to_have_text("Change your membership")
    expect(page.locator(".lede")).to_have_text("You give $10.00 monthly.")
    no_violations(page)
    price = page.locator("#change-price")
    button = page.locator("[data-change-button]")
    page.get_by_label("How often").select_option("year")
    page.get_by_label("Amount (USD)").fill("120")
    expect(button).to_have_text(re.compile(r"^Switch to yearly: pay \$\d+\.\d\d now$"))
    due_now = re.search(r"pay (\$\d+\.\d\d) now", button.inner_text()).group(1)
    expect(price).to_contain_text(
        re.compile(
            rf"^You'll be charged {re.escape(due_now)} today \(\$120\.00 a year, less "
            rf"\$\d+\.\d\d for the unused part of this month\), then \$120\.00 every year "
            rf"from {DATE}\."
        )
    )
    assert due_now != "$120.00"  # this month's unused part is credited
    no_violations(page)
    button.click()
    expect(page).to_have_url(ACCOUNT)
    done = page.locator(".messages")
    expect(done).to_contain_text("Your membership is now $120.00 yearly.")
    expect(done).to_contain_text(f"{due_now} was charged today")  # the charge shown before
    expect(membership).to_contain_text("Yearly membership")
    expect(membership).to_contain_text("$120.00 a year")
    assert membership_of(stack, EMAIL)["interval"] == "year"
    assert stripe_subscription_of(stack, EMAIL)["interval"] == "year"

    # A new amount: the page says the new price, and when, before it is saved.
    page.get_by_role("link", name="Change your amount or how often you pay").click()
    expect(page.locator(".lede")).to_have_text("You give $120.00 yearly.")
    page.get_by_label("Amount (USD)").fill("150")
    expect(button).to_have_text("Change to $150.00 a year")
    expect(price).to_contain_text(
        re.compile(rf"^On {DATE} you'll pay \$\d+\.\d\d \(\$150\.00 for the year ahead, plus ")
    )
    expect(price).to_contain_text("then $150.00 a year.")
    no_violations(page)
    button.click()
    expect(page).to_have_url(ACCOUNT)
    expect(done).to_contain_text("Your membership is now $150.00 yearly.")
    expect(membership).to_contain_text("$150.00 a year")
    assert membership_of(stack, EMAIL) | {"user": None} == {
        "status": "active",
        "amount": 15000,
        "currency": "USD",
        "interval": "year",
        "cancel_at_period_end": False,
        "cancel_category": "",
        "cancel_reason": "",
        "user": None,
    }
    assert stripe_subscription_of(stack, EMAIL) | {"card_last4": None} == {
        "amount": 15000,
        "interval": "year",
        "cancel_at_period_end": False,
        "card_last4": None,
    }

    # A new card, whose bank asks for 3-D Secure once.
    page.get_by_role("link", name="Update your card").click()
    expect(page.locator("h1")).to_have_text("Update your card")
    expect(page.get_by_text(f"The card we charge now: Visa ending {CARD_OK[-4:]}.")).to_be_visible()
    no_violations(page)
    fill_card(page, CARD_3DS)
    page.locator("#card-button").click()
    assert answer_challenges(page, until=ACCOUNT) == 1
    expect(page.locator(".messages")).to_contain_text(
        f"Your card is updated: renewals now go to your Visa ending {CARD_3DS[-4:]}."
    )
    expect(membership).to_contain_text(f"Visa ending {CARD_3DS[-4:]}")
    assert stripe_subscription_of(stack, EMAIL)["card_last4"] == CARD_3DS[-4:]

    # Cancel, with a reason: it ends at the end of the year paid for.
    page.get_by_role("link", name="Cancel your membership").click()
    expect(page.locator("h1")).to_have_text("Cancel your membership")
    expect(page.locator(".lede")).to_contain_text(re.compile(rf"You keep your perks until {DATE}"))
    no_violations(page)
    page.get_by_label("I read less than I used to").check()
    page.get_by_label("Would you tell us why? (optional)").fill("Moving abroad for a while.")
    page.get_by_role("button", name="Cancel at the end of the period").click()
    expect(page).to_have_url(ACCOUNT)
    expect(page.locator(".messages")).to_contain_text(
        re.compile(rf"Your membership will end on {DATE}\.")
    )
    expect(membership).to_contain_text(re.compile(rf"Ends on\s*{DATE}\s*\(it will not renew\)"))
    expect(membership).to_contain_text("Active")  # perks until then
    no_violations(page)
    held = membership_of(stack, EMAIL)
    assert (held["cancel_at_period_end"], held["cancel_category"], held["cancel_reason"]) == (
        True,
        "reading_less",
        "Moving abroad for a while.",
    )
    assert stripe_subscription_of(stack, EMAIL)["cancel_at_period_end"] is True
    stack.mail.wait_for(EMAIL, "membership will not renew", timeout=60)

    # Resume before the end: it renews again.
    page.get_by_role("button", name="Keep my membership").click()
    expect(page.locator(".messages")).to_contain_text("Your membership will carry on.")
    expect(membership).to_contain_text(re.compile(rf"Next payment\s*{DATE}"))
    expect(membership).not_to_contain_text("it will not renew")
    expect(membership.get_by_role("link", name="Cancel your membership")).to_be_visible()
    no_violations(page)
    held = membership_of(stack, EMAIL)
    assert (held["status"], held["cancel_at_period_end"], held["cancel_reason"]) == (
        "active",
        False,
        "",
    )
    assert stripe_subscription_of(stack, EMAIL)["cancel_at_period_end"] is False


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_members_own_pages_have_no_serious_accessibility_violation(member, size):
    """The account page's own links (a receipt, the year's statement, setting a
    password) and the membership's pages, as the member who joined above sees them."""
    page = member
    page.set_viewport_size(size)
    try:
        page.goto("/account/")
        receipt = page.locator('#giving a[href*="/account/receipts/"]')
        for _ in range(30):  # the receipt is made once Stripe's event is processed
            if receipt.count():
                break
            page.wait_for_timeout(1000)
            page.reload()
        statement = page.locator('#giving a[href*="/account/statement/"]')
        paths = [
            receipt.first.get_attribute("href"),
            statement.first.get_attribute("href"),
            "/account/",
            "/account/card/",
            "/account/membership/change/",
            "/account/membership/cancel/",
            "/accounts/password/set/",
        ]
        for path in paths:
            assert page.goto(path).status == 200, path
            no_violations(page)
    finally:
        page.set_viewport_size(DESKTOP)
