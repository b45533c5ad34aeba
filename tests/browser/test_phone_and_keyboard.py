"""The give and join journeys on a phone (390x844) and by keyboard alone (issue 15,
item 3): from the article's support block to the thank-you or welcome page, every step
reached with Tab, chosen with the arrow keys, Space or Enter, never the mouse. On the way,
each control shows where the focus is, and nothing is wider than the phone's screen."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.browser.steps import ARTICLE, THANKS, WELCOME, answer_challenges, gifts_of
from tests.support.stripejs import CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CARD = "#card-element"
MAX_TABS = 80  # more than any of our pages needs to reach its last control


def tab_to(page, selector: str) -> None:
    """Press Tab (only Tab) until the focus is on `selector`; each control passed on the
    way must show that it has the focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            assert_focus_is_visible(page)
            return
        assert_focus_is_visible(page)
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {selector}")


def assert_focus_is_visible(page) -> None:
    """The focused control is drawn with an outline or a ring (WCAG 2.4.7), on screen."""
    seen = page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return {tag: "body", shown: true};
            const style = getComputedStyle(el);
            const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
            const shadow = style.boxShadow && style.boxShadow !== "none";
            const box = el.getBoundingClientRect();
            return {
                tag: el.tagName + (el.id ? "#" + el.id : "") + (el.name ? "[" + el.name + "]" : ""),
                shown: (ring || shadow) && box.width > 0 && box.height > 0,
            };
        }"""
    )
    assert seen["shown"], f"{seen['tag']} has the focus but does not show it"


def type_card(page, number: str) -> None:
    """The card, typed into the emulator's card element field after field with Tab (on
    the real site this is Stripe's iframe, which Stripe makes keyboard-usable)."""
    tab_to(page, f"{CARD} input[placeholder=number]")
    page.keyboard.type(number)
    for field, value in [("exp_month", "12"), ("exp_year", "34"), ("cvc", "123")]:
        tab_to(page, f"{CARD} input[placeholder={field}]")
        page.keyboard.type(value)
    tab_to(page, f"{CARD} input[placeholder=postal_code]")
    page.keyboard.type("01001")


def pay_by_keyboard(page, email_field: str, email: str, button: str, *, shot: str, until) -> None:
    """The end of a payment form by keyboard: the email, the card, the form's screenshot,
    Enter on the pay button, then the page it leads to (the bank's check, if any, first)."""
    tab_to(page, email_field)
    page.keyboard.type(email)
    type_card(page, CARD_OK)
    screenshot(page, shot)
    tab_to(page, button)
    page.keyboard.press("Enter")
    answer_challenges(page, until=until)


def assert_fits_the_screen(page) -> None:
    """Nothing makes the page scroll sideways; else which elements stick out."""
    too_wide = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth <= width) return [];
            return [...document.body.querySelectorAll("*")]
                .filter((el) => el.getBoundingClientRect().right > width + 0.5)
                .map((el) => el.tagName + (el.className ? "." + el.className : "")
                    + " " + (el.textContent || "").trim().slice(0, 40))
                .slice(-5);
        }"""
    )
    assert too_wide == [], f"{page.url} is wider than the screen: {too_wide}"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_guest_gives_from_an_article_by_keyboard_alone(page, stack, size):
    email = f"browser.keyboard.giver.{size['width']}@example.org"
    on = "-phone" if size == PHONE else ""  # the screenshots' names
    page.set_viewport_size(size)
    page.goto(f"/articles/{ARTICLE}/")
    assert_fits_the_screen(page)
    screenshot(page, f"article{on}")

    tab_to(page, '.support-block a[data-kind="give"]')
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Support us just once")
    expect(page.get_by_text("Inside the ports that keep the grain moving")).to_be_visible()
    assert_fits_the_screen(page)

    tab_to(page, "#id_currency")
    page.keyboard.press("End")  # a select moves with the arrow keys, Home and End
    page.keyboard.press("Home")  # back to the first currency, USD
    expect(page.locator("#id_currency")).to_have_value("USD")
    tab_to(page, "#suggestions button:nth-child(2)")
    page.keyboard.press("Space")
    chosen = page.locator("#suggestions button:nth-child(2)")
    expect(chosen).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#give-button")).to_have_text(f"Give {chosen.inner_text().strip()}")

    pay_by_keyboard(page, "#id_email", email, "#give-button", shot=f"give{on}", until=THANKS)

    expect(page.locator("h1")).to_contain_text("Thank")
    assert_fits_the_screen(page)
    assert axe_violations(page) == []
    screenshot(page, f"thank-you{on}")
    assert gifts_of(stack, email) == ["succeeded 1"]
    stack.mail.wait_for(email, "receipt", timeout=60)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_new_reader_joins_from_an_article_by_keyboard_alone(page, stack, size):
    email = f"browser.keyboard.joiner.{size['width']}@example.org"
    on = "-phone" if size == PHONE else ""
    page.set_viewport_size(size)
    page.goto(f"/articles/{ARTICLE}/")

    tab_to(page, '.support-block a[data-kind="join"]')
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("member")
    assert_fits_the_screen(page)

    # The levels are one radio group: Tab enters it, the arrow keys choose
    tab_to(page, "input[type=radio][name=level]:checked")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name=re.compile("Champion"))).to_be_checked()
    tab_to(page, "input[type=radio][name=interval]:checked")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("Yearly")).to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("Champion"))).to_be_checked()
    expect(page.locator("#join-button")).to_have_text(re.compile(r"^Join for \S+ a year$"))

    pay_by_keyboard(
        page, "input[name=email]", email, "#join-button", shot=f"join{on}", until=WELCOME
    )

    expect(page.locator("h1")).to_contain_text("Welcome")
    assert_fits_the_screen(page)
    assert axe_violations(page) == []
    stack.mail.wait_for(email, "Welcome", timeout=60)
