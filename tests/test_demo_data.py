import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from content.models import Article
from members.models import User
from payments.currencies import offered_currencies
from payments.models import SuggestedAmount


def run_demo_data() -> str:
    from io import StringIO

    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_data_prints_staff_credentials_that_open_the_admin(client):
    output = run_demo_data()
    email, password = re.search(r"Staff sign-in: (\S+) / (\S+)", output).groups()

    client.post(reverse("account_login"), {"login": email, "password": password})

    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_demo_data_gives_every_offered_currency_suggested_amounts_and_adds_articles():
    run_demo_data()
    run_demo_data()  # safe to run twice

    assert User.objects.filter(is_staff=True).count() == 1
    assert Article.objects.count() == 12
    for code in offered_currencies():
        amounts = SuggestedAmount.objects.filter(currency=code)
        assert amounts.count() == 4
        assert amounts.filter(is_default=True).count() == 1
