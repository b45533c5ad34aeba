"""A gift whose payment Stripe did not answer (our server says 502): the page sends the
same card again when the reader presses the button again, so our server repeats the
same request (the same idempotency key) and Stripe charges once."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import THANKS, answer_challenges, fill_card, gifts_of
from tests.support.stripejs import CARD_OK

pytestmark = [pytest.mark.integration, pytest.mark.browser]

UNANSWERED = "Our card processor did not answer in time (a test's answer)."


def test_a_payment_stripe_did_not_answer_is_sent_again_with_the_same_card(page, stack):
    email = "browser.unanswered@example.org"
    cards_sent: list[str] = []

    def pay(route) -> None:
        body = route.request.post_data or ""
        cards_sent.extend(re.findall(r'name="payment_method"\r\n\r\n(\S+)\r\n', body))
        if len(cards_sent) == 1:  # the first charge: its answer lost on the way to Stripe
            route.fulfill(status=502, json={"error": UNANSWERED})
        else:
            route.continue_()

    page.route(re.compile(r"/give/[0-9a-f-]+/pay$"), pay)
    page.goto("/give/")
    page.get_by_label("Email").fill(email)
    fill_card(page, CARD_OK)
    page.locator("#give-button").click()
    expect(page.locator('[data-error-for="__all__"]')).to_have_text(UNANSWERED)

    page.locator("#give-button").click()  # the reader tries again, card untouched
    answer_challenges(page, until=THANKS)

    assert len(cards_sent) == 2 and cards_sent[0] == cards_sent[1], cards_sent
    assert gifts_of(stack, email) == ["succeeded 1"]
