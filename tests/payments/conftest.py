import pytest
import requests
from django.urls import reverse


@pytest.fixture
def stripe_webhooks(localstripe, live_server, settings):
    """localstripe sends its signed events to this test's live server."""
    config_url = f"{localstripe}/_config/webhooks/patronage"
    endpoint = live_server.url + reverse("payments:stripe_webhook")
    secret = settings.STRIPE_WEBHOOK_SECRET
    requests.post(config_url, json={"url": endpoint, "secret": secret}, timeout=5)
    yield endpoint
    # localstripe cannot forget an endpoint: point it at an event type that never happens.
    requests.post(
        config_url,
        json={"url": endpoint, "secret": secret, "events": ["patronage.never"]},
        timeout=5,
    )


@pytest.fixture
def staff_client(db):
    """A second browser, signed in as newsroom staff (the `client` stays a guest)."""
    from django.test import Client

    from tests.factories import UserFactory

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    return staff
