"""WCAG 2.2 AA on the reader's pages, checked by axe-core in chromium at desktop and
phone sizes: no serious or critical violation (issue 13, item 5).

The emulator's card fields are left out: on the real site Stripe's iframe takes their
place, and Stripe answers for it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, STAFF_EMAIL, STAFF_PASSWORD, axe_violations
from tests.browser.conftest import sign_in as sign_in_as

pytestmark = [pytest.mark.integration, pytest.mark.browser]

READER_PAGES = [
    "/",
    "/give/",
    "/join/",
    "/gift/",
    "/give/?from=grain-corridor-ports",
    "/join/?from=grain-corridor-ports",
    "/articles/grain-corridor-ports/",
    "/articles/investigation-procurement/",  # with the member extras' hint
    "/supporters/",
    "/accounts/login/",
    "/accounts/login/code/",
    "/accounts/signup/",
    "/accounts/password/reset/",
]
CARD = "#card-element"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("path", READER_PAGES)
def test_a_reader_page_has_no_serious_accessibility_violation(page, path, size):
    page.set_viewport_size(size)
    response = page.goto(path)
    assert response.status == 200, path

    assert axe_violations(page, exclude=[CARD]) == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize(
    "path",
    [
        "/account/",
        "/account/membership/change/",
        "/account/erase/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/logout/",
    ],
)
def test_the_account_pages_have_no_serious_accessibility_violation(page, path, size):
    sign_in_as(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.set_viewport_size(size)
    page.goto(path)

    assert axe_violations(page, exclude=[CARD]) == []


def test_a_failed_gift_moves_focus_to_the_first_field_in_error(page):
    page.goto("/give/")
    page.locator("#give-button").click()

    # The page sends the form, hears which fields are wrong, then marks them and moves focus
    invalid = page.locator("[aria-invalid=true]")
    expect(invalid.first).to_be_visible()
    page.wait_for_function(
        "document.activeElement && ['email', 'amount'].includes(document.activeElement.name)"
    )
    for index in range(invalid.count()):
        described = invalid.nth(index).get_attribute("aria-describedby") or ""
        for target in described.split():
            assert page.locator(f"#{target}").count() == 1, target
