"""Fee cover arithmetic, and the limits that stand between a card-testing bot and Stripe.

Stripe is pointed at a closed port: a gift the limits let through answers
502 (Stripe unreachable), one they stop answers 429, and neither stores
anything. give_start checks the form first, so only valid gifts count
towards a limit.
"""

from fractions import Fraction

import hypothesis
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from config.ratelimit import address_key, parse_rate
from payments.currencies import fee_cover
from payments.models import Donation, Donor

pytestmark = pytest.mark.django_db

LET_THROUGH = 502  # past every check; only the closed Stripe port stopped it
TOO_MANY = "Too many attempts. Please wait a few minutes and try again."


@pytest.fixture(autouse=True)
def stripe_unreachable(settings):
    """Any call to Stripe fails at once (closed port, no retries) and the view answers 502."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def start(client, *, ip: str = "198.51.100.7", email: str = "guest@example.org", **headers):
    """POST a valid gift from `ip`; `headers` are extra request headers."""
    return client.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "USD", "email": email},
        REMOTE_ADDR=ip,
        headers=headers,
    )


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def nothing_stored() -> bool:
    return not Donor.objects.exists() and not Donation.objects.exists()


# --- Covering the card fees -----------------------------------------------------------


def arrives(total: int, bps: int, fixed: int) -> Fraction:
    """What is left of `total` after Stripe's estimated fee, exactly."""
    return total - Fraction(total * bps, 10000) - fixed


@pytest.mark.parametrize(
    ("amount", "currency", "cover"),
    [
        (1000, "USD", 61),  # (1000 + 30) / 0.971 = 1060.76 -> 1061
        (2500, "USD", 106),
        (941, "USD", 59),  # (941 + 30) / 0.971 = 1000 exactly: no rounding up
        (100, "USD", 34),
        (500, "EUR", 41),  # EUR's fixed part is 25
        (100, "GBP", 24),  # GBP's fixed part is 20
        (4000, "UAH", 1150),  # UAH's fixed part is 1000
        (1000, "usd", 61),
        (500, "CHF", 15),  # no fixed part configured: the percentage only
    ],
)
def test_fee_cover_is_the_smallest_whole_amount_that_brings_the_gift_home(amount, currency, cover):
    total = amount + fee_cover(amount, currency)

    assert fee_cover(amount, currency) == cover
    assert type(cover) is int
    fixed = {"USD": 30, "EUR": 25, "GBP": 20, "UAH": 1000}.get(currency.upper(), 0)
    assert arrives(total, 290, fixed) >= amount
    assert arrives(total - 1, 290, fixed) < amount


def test_fee_cover_for_a_zero_decimal_currency_is_in_whole_yen(settings):
    settings.DONATION_FEE_FIXED = "USD:30,JPY:40"

    cover = fee_cover(500, "JPY")

    assert cover == 57  # (500 + 40) / 0.971 = 556.13 -> 557 yen
    assert arrives(557, 290, 40) >= 500 > arrives(556, 290, 40)


def test_no_fee_share_and_no_fixed_part_covers_nothing(settings):
    settings.DONATION_FEE_BPS = 0
    settings.DONATION_FEE_FIXED = ""

    assert fee_cover(1234, "USD") == 0


@hypothesis.settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=10**12),
    bps=st.integers(min_value=0, max_value=5000),
    fixed=st.integers(min_value=0, max_value=10**5),
)
def test_fee_cover_is_always_the_smallest_sufficient_whole_amount(amount, bps, fixed):
    with override_settings(DONATION_FEE_BPS=bps, DONATION_FEE_FIXED=f"USD:{fixed}"):
        cover = fee_cover(amount, "USD")

    assert type(cover) is int
    assert cover >= fixed
    assert arrives(amount + cover, bps, fixed) >= amount
    assert arrives(amount + cover - 1, bps, fixed) < amount


# --- Rate limits ----------------------------------------------------------------------


def test_the_gift_after_the_limit_from_one_address_is_refused_with_429(client, settings):
    settings.DONATION_RATE_PER_IP = "2/h"

    responses = [start(client, email=f"reader{n}@example.org") for n in range(3)]

    assert statuses(responses) == [LET_THROUGH, LET_THROUGH, 429]
    assert responses[-1].json() == {"error": TOO_MANY}
    assert nothing_stored()


def test_the_addresses_of_one_ipv6_network_share_one_limit(client, settings):
    """A bot with a /64 has 2^64 addresses: each would otherwise get a fresh limit."""
    settings.DONATION_RATE_PER_IP = "2/h"
    same_network = ["2001:db8:1:2::1", "2001:db8:1:2::beef", "2001:db8:1:2:ffff:ffff:ffff:fff1"]

    responses = [
        start(client, ip=ip, email=f"reader{n}@example.org") for n, ip in enumerate(same_network)
    ]

    assert statuses(responses) == [LET_THROUGH, LET_THROUGH, 429]
    assert start(client, ip="2001:db8:1:3::1", email="next@example.org").status_code == LET_THROUGH


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # an IPv4 address written as IPv6
        ("not an address", "not an address"),
    ],
)
def test_an_address_counts_in_its_own_bucket_or_its_ipv6_networks(ip, key):
    assert address_key(ip) == key


def test_one_email_is_limited_across_addresses_whatever_its_casing(client, settings):
    settings.DONATION_RATE_PER_IP = "100/h"
    settings.DONATION_RATE_PER_EMAIL = "2/h"
    emails = ["guest@example.org", "Guest@Example.org", "GUEST@EXAMPLE.ORG"]

    responses = [start(client, ip=f"198.51.100.{n}", email=email) for n, email in enumerate(emails)]

    assert statuses(responses) == [LET_THROUGH, LET_THROUGH, 429]
    assert responses[-1].json() == {"error": TOO_MANY}
    assert nothing_stored()


def test_another_address_with_another_email_is_still_allowed_when_one_is_limited(client, settings):
    settings.DONATION_RATE_PER_IP = "1/h"
    settings.DONATION_RATE_PER_EMAIL = "1/h"
    start(client, ip="198.51.100.1", email="bot@example.org")

    assert start(client, ip="198.51.100.1", email="other@example.org").status_code == 429
    assert start(client, ip="198.51.100.2", email="bot@example.org").status_code == 429
    assert start(client, ip="198.51.100.3", email="reader@example.org").status_code == LET_THROUGH


def test_refused_forms_do_not_use_up_the_limit(client, settings):
    """The form is checked first: typos cost a reader nothing, and never reach Stripe."""
    settings.DONATION_RATE_PER_IP = "1/h"
    for _ in range(5):
        bad = client.post(reverse("payments:give_start"), {"amount": "abc", "currency": "USD"})
        assert bad.status_code == 400

    assert start(client, ip="127.0.0.1").status_code == LET_THROUGH


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client, settings):
    settings.NUM_PROXIES = 0
    settings.DONATION_RATE_PER_IP = "2/h"

    responses = [
        start(client, email=f"reader{n}@example.org", **{"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(3)
    ]

    assert statuses(responses) == [LET_THROUGH, LET_THROUGH, 429]


def test_behind_one_proxy_each_forwarded_client_has_its_own_limit(client, settings):
    settings.NUM_PROXIES = 1
    settings.DONATION_RATE_PER_IP = "2/h"

    responses = [
        start(client, email=f"reader{n}@example.org", **{"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(3)
    ]

    assert statuses(responses) == [LET_THROUGH] * 3


@pytest.mark.parametrize(
    ("num_proxies", "forwarded"),
    [
        (1, "{spoof}, 203.0.113.9"),  # the client's own header, then our proxy's entry
        (2, "{spoof}, 203.0.113.9, 10.0.0.2"),  # ... and a second proxy's
    ],
)
def test_a_client_cannot_escape_the_limit_by_forging_x_forwarded_for(
    client, settings, num_proxies, forwarded
):
    settings.NUM_PROXIES = num_proxies
    settings.DONATION_RATE_PER_IP = "2/h"

    responses = [
        start(
            client,
            email=f"reader{n}@example.org",
            **{"X-Forwarded-For": forwarded.format(spoof=f"192.0.2.{n}")},
        )
        for n in range(3)
    ]

    assert statuses(responses) == [LET_THROUGH, LET_THROUGH, 429]


def test_paying_is_limited_per_address_too(client, settings):
    settings.DONATION_RATE_PER_IP = "2/h"
    pay_url = reverse("payments:give_pay", args=["8c6b1f0e-0000-4000-8000-000000000000"])

    responses = [client.post(pay_url, REMOTE_ADDR="198.51.100.7") for _ in range(3)]

    assert statuses(responses) == [404, 404, 429]
    assert responses[-1].json() == {"error": TOO_MANY}


def test_starting_and_paying_are_counted_separately(client, settings):
    settings.DONATION_RATE_PER_IP = "1/h"
    pay_url = reverse("payments:give_pay", args=["8c6b1f0e-0000-4000-8000-000000000000"])

    assert start(client).status_code == LET_THROUGH
    assert client.post(pay_url, REMOTE_ADDR="198.51.100.7").status_code == 404


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("10/10m", (10, 600)),
        ("5/h", (5, 3600)),
        ("1/s", (1, 1)),
        ("100/d", (100, 86400)),
        (" 3 / 2 d ", (3, 172800)),
        ("0/m", (0, 60)),
    ],
)
def test_a_rate_is_a_count_per_period(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize(
    "rate", ["", "10", "10/", "/m", "ten/m", "10/x", "10/m/h", "-1/m", "1.5/m", "10/1.5m", "10 m"]
)
def test_a_malformed_rate_is_a_configuration_error(rate):
    with pytest.raises(ImproperlyConfigured, match="COUNT/PERIOD"):
        parse_rate(rate)


def test_a_rate_with_a_zero_period_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured):
        parse_rate("10/0m")


# --- The optional challenge -------------------------------------------------------------


def refuse_everyone(request) -> bool:
    return False


def let_everyone_through(request) -> bool:
    return True


def test_a_failed_challenge_is_refused_with_400_and_stores_nothing(client, settings):
    settings.DONATION_CHALLENGE = f"{__name__}.refuse_everyone"

    response = start(client)

    assert response.status_code == 400
    assert response.json() == {"error": "Please complete the check and try again."}
    assert nothing_stored()


def test_a_passed_challenge_lets_the_gift_go_on_to_stripe(client, settings):
    settings.DONATION_CHALLENGE = f"{__name__}.let_everyone_through"

    assert start(client).status_code == LET_THROUGH
    assert nothing_stored()


def test_a_failed_challenge_still_counts_towards_the_limit(client, settings):
    """The limit is checked before the challenge: a bot cannot retry the check for free."""
    settings.DONATION_RATE_PER_IP = "1/h"
    settings.DONATION_CHALLENGE = f"{__name__}.refuse_everyone"
    assert start(client).status_code == 400

    settings.DONATION_CHALLENGE = f"{__name__}.let_everyone_through"
    assert start(client, email="other@example.org").status_code == 429
