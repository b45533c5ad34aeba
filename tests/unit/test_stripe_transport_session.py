"""The Stripe client's HTTP session reads the environment's proxy settings once per
address (payments/stripe_gateway/transport.py `_Session`), and still honours them."""

import requests

from payments.stripe_gateway import transport

STRIPE = "https://api.stripe.com/v1/charges/ch_1"


def settings_for(session: transport._Session, url: str) -> dict:
    return session.merge_environment_settings(url, {}, False, True, None)


def test_a_proxy_set_in_the_environment_still_carries_stripe_calls(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert settings_for(transport._Session(), STRIPE)["proxies"]["https"] == (
        "http://proxy.example:3128"
    )


def test_an_address_the_environment_excludes_from_the_proxy_goes_direct(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.stripe.com")

    assert "https" not in settings_for(transport._Session(), STRIPE)["proxies"]


def test_the_environment_is_read_once_per_address(monkeypatch):
    reads = []
    read = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions,
        "get_environ_proxies",
        lambda url, **kw: reads.append(url) or read(url, **kw),
    )
    session = transport._Session()

    settings_for(session, STRIPE)
    settings_for(session, "https://api.stripe.com/v1/payment_intents/pi_1")
    assert len(reads) == 1
    settings_for(session, "https://files.stripe.com/v1/files/file_1")
    assert len(reads) == 2


def test_a_caller_changing_the_settings_it_got_does_not_change_the_next_ones(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = transport._Session()

    settings_for(session, STRIPE)["proxies"].clear()

    assert settings_for(session, STRIPE)["proxies"]["https"] == "http://proxy.example:3128"
