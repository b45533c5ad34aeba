"""Behind a load balancer, allauth's limits count each reader's address, not the proxy's.

Found by the chaos simulation (bench/simulate.py), whose readers come through one
address each in X-Forwarded-For: with the proxy's address counted, sign-ups,
sign-ins and codes were one limit for the whole site (20 sign-ups a minute).
"""

import pytest
from django.urls import reverse

from tests.test_settings import PRODUCTION, manage


def test_account_limits_trust_the_same_proxies_as_the_gift_limits():
    shown = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)",
        **PRODUCTION,
        NUM_PROXIES="2",
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "2"


@pytest.mark.django_db
def test_behind_one_proxy_sign_ins_from_many_readers_are_not_one_limit(client, settings):
    settings.NUM_PROXIES = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    login = reverse("account_login")

    statuses = {
        client.post(
            login,
            {"login": f"reader{n}@example.org", "password": "x"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(31)
    }
    from_one_address = {
        client.post(
            login,
            {"login": f"again{n}@example.org", "password": "x"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        ).status_code
        for n in range(31)
    }

    assert statuses == {200}
    assert from_one_address == {200, 429}
