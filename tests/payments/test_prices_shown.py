"""Prices stated before paying (issue 13, item 3): the card-fee cover says its amount and the
new total, and the pay buttons say what will be charged, in the HTML the server renders and,
as the reader changes the form, from the rule the page's data carries
(static/js/patronage.js, run here in Node when it is installed)."""

import json
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from payments.currencies import fee_cover
from payments.money import parse_major_amount
from payments.price_labels import GIFT, MEMBERSHIP, ONCE, pay_labels, short
from tests.factories import (
    LevelAmountFactory,
    MembershipLevelFactory,
    SuggestedAmountFactory,
    UserFactory,
)

PATRONAGE_JS = Path(settings.BASE_DIR) / "static" / "js" / "patronage.js"
AMOUNTS = [100, 101, 999, 1000, 1061, 1234, 2500, 99999, 100000, 1000000]


def fee_cover_as_the_page_does(amount: int, currency: dict) -> int:
    """patronage.js's feeCover, line for line, in Python."""
    keep = 10000 - currency["feeBps"]
    return ((amount + currency["feeFixed"]) * 10000 + keep - 1) // keep - amount


def give_page_data(client) -> dict:
    return client.get(reverse("payments:give")).context["page_data"]


def button(html: str, button_id: str) -> str:
    tag = f'<button type="submit" id="{button_id}">'
    start = html.index(tag) + len(tag)
    return unescape(html[start : html.index("</button>", start)])


@pytest.fixture
def suggested(db):
    SuggestedAmountFactory(currency="USD", amount=1000, is_default=True)
    SuggestedAmountFactory(currency="USD", amount=2500)


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "UAH"])
def test_the_page_covers_the_same_fees_as_the_server(client, suggested, code):
    currency = give_page_data(client)["currencies"][code]

    for amount in AMOUNTS:
        assert fee_cover_as_the_page_does(amount, currency) == fee_cover(amount, code), amount


@override_settings(DONATION_FEE_BPS=350, DONATION_FEE_FIXED="USD:0,EUR:35")
def test_the_page_follows_the_newsrooms_fee_settings(client, suggested):
    currencies = give_page_data(client)["currencies"]

    assert currencies["EUR"]["feeBps"] == 350
    assert (currencies["EUR"]["feeFixed"], currencies["USD"]["feeFixed"]) == (35, 0)
    for code in ("USD", "EUR"):
        for amount in AMOUNTS:
            assert fee_cover_as_the_page_does(amount, currencies[code]) == fee_cover(amount, code)


def test_the_give_page_states_the_default_amount_and_its_fee_cover(client, suggested):
    html = client.get(reverse("payments:give")).content.decode()

    assert fee_cover(1000, "USD") == 61
    assert 'name="amount" value="10.00"' in html
    assert button(html, "give-button") == "Give $10"
    assert '<span id="fee-text">Add $0.61 to cover card fees — total $10.61</span>' in html
    assert '<p class="total" id="total" aria-live="polite">Total: $10, charged once.</p>' in html


def test_the_suggested_amounts_say_their_money_as_the_pay_button_does(client, suggested):
    SuggestedAmountFactory(currency="USD", amount=1050)

    labels = [s["label"] for s in give_page_data(client)["suggestions"]["USD"]]

    assert sorted(labels) == ["$10", "$10.50", "$25"]  # no ".00": "$10" on both


def test_without_a_default_amount_the_button_keeps_its_plain_words(client, db):
    html = client.get(reverse("payments:give")).content.decode()

    assert button(html, "give-button") == "Give now"
    assert '<p class="total" id="total" aria-live="polite"></p>' in html


def test_the_join_button_says_the_amount_and_how_often(client, db):
    for name, month in (("Supporter", 500), ("Friend", 1000), ("Insider", 2500)):
        level = MembershipLevelFactory(name=name)
        LevelAmountFactory(level=level, currency="USD", amount=month)
        LevelAmountFactory(level=level, currency="USD", interval="year", amount=month * 10)
    client.force_login(UserFactory())

    monthly = client.get(reverse("members:join")).content.decode()
    yearly = client.get(reverse("members:join") + "?interval=year").content.decode()

    assert button(monthly, "join-button") == "Join for $10 a month"  # the middle level
    assert 'name="amount" value="10.00"' in monthly
    assert button(yearly, "join-button") == "Join for $100 a year"
    assert "Total: $100 a year, charged today, then every year until you cancel." in yearly


@pytest.mark.parametrize(
    ("kind", "amount", "code", "options", "expected"),
    [
        (ONCE, 1000, "USD", {}, "Give $10"),
        (ONCE, 1000, "USD", {"cover_fees": True}, "Give $10.61"),
        (ONCE, 123456, "EUR", {}, "Give €1,234.56"),
        (MEMBERSHIP, 1000, "USD", {"interval": "month"}, "Join for $10 a month"),
        (MEMBERSHIP, 10000, "GBP", {"interval": "year"}, "Join for £100 a year"),
        (GIFT, 1500, "USD", {"months": 3}, "Give 3 months for $15"),
        (GIFT, 500, "USD", {"months": 1}, "Give 1 month for $5"),
        (GIFT, 1500, "USD", {"months": 3, "cover_fees": True}, "Give 3 months for $15.76"),
        (ONCE, None, "USD", {}, "Give now"),
        (ONCE, 5, "USD", {}, "Give now"),  # below the currency's minimum
    ],
)
def test_the_buttons_say_what_will_be_charged(db, kind, amount, code, options, expected):
    assert pay_labels(kind, amount, code, **options)["button"] == expected


def test_money_on_buttons_drops_zero_cents_only(db):
    assert [short(1000, "USD"), short(1061, "USD"), short(1000050, "EUR")] == [
        "$10",
        "$10.61",
        "€10,000.50",
    ]


# --- The page's script says the same as the server ------------------------------------

CASES = [
    (kind, amount, code, cover, interval, months)
    for kind in (ONCE, MEMBERSHIP, GIFT)
    for code in ("USD", "EUR", "UAH")
    for amount in (None, 50, 100, 1000, 1234, 100000, 4000000)
    for cover in (False, True)
    for interval, months in (("month", 1), ("year", 12))
]

NODE_SCRIPT = """
global.window = {};
eval(require("fs").readFileSync(process.argv[1], "utf8"));
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const P = window.Patronage;
console.log(JSON.stringify(input.cases.map(function (c) {
  const [kind, amount, code, cover, interval, months] = c;
  return P.payLabels(kind, amount, code, input.currencies[code],
    {coverFees: cover, interval: interval, months: months});
})));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_page_script_states_the_same_prices_as_the_server(client, suggested):
    currencies = give_page_data(client)["currencies"]

    result = subprocess.run(
        ["node", "-e", NODE_SCRIPT, str(PATRONAGE_JS)],
        input=json.dumps({"cases": CASES, "currencies": currencies}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    from_script = json.loads(result.stdout)
    from_server = [
        pay_labels(kind, amount, code, cover_fees=cover, interval=interval, months=months)
        for kind, amount, code, cover, interval, months in CASES
    ]
    assert from_script == from_server


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_page_script_reads_amounts_as_the_server_does(db):
    typed = ["10", "10.5", "10.50", "1,000", "1,000.25", "10,50", " 7 ", "", "abc", "1.234", "-5"]
    script = (
        "global.window = {};"
        'eval(require("fs").readFileSync(process.argv[1], "utf8"));'
        "const typed = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(typed.map(t => window.Patronage.parseMajor(t, 2))));"
    )
    result = subprocess.run(
        ["node", "-e", script, str(PATRONAGE_JS), json.dumps(typed)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    def server(text):
        try:
            return parse_major_amount(text, "USD")
        except ValueError:
            return None

    assert json.loads(result.stdout) == [server(t) for t in typed]
