"""`manage.py demo_data` makes a living newsroom: a dozen articles with bodies, and a
few months of gifts and memberships in the ledger; running it again adds nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from content.models import Article
from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from payments.models import Donation, Payment
from payments.states import PaymentKind

pytestmark = pytest.mark.django_db


def demo_data() -> str:
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


def ledger() -> list[tuple]:
    return list(Payment.objects.order_by("pk").values_list())


def test_demo_data_makes_a_dozen_articles_with_bodies_and_a_few_months_of_money(client):
    demo_data()
    first = (ledger(), list(Article.objects.order_by("pk").values_list()))
    output = demo_data()

    assert (ledger(), list(Article.objects.order_by("pk").values_list())) == first
    assert "(0 new)" in output
    assert Article.objects.count() == 12
    assert not Article.objects.filter(body="").exists()
    assert Article.objects.exclude(member_notes="").exists()
    one_time = Payment.objects.filter(kind=PaymentKind.ONE_TIME)
    renewals = Payment.objects.filter(kind=PaymentKind.MEMBERSHIP)
    assert one_time.count() == Donation.objects.count() >= 30
    assert renewals.count() >= 14
    assert one_time.exclude(article_slug="").exists()
    oldest = Payment.objects.order_by("paid_at").first().paid_at
    assert oldest < timezone.now() - timedelta(days=60)
    members = Membership.objects.filter(kind=MembershipKind.PAID)
    assert members.filter(status=MembershipStatus.ACTIVE).count() >= 10
    assert not Payment.objects.exclude(stripe_charge_id__startswith="ch_demo_").exists()

    home = client.get(reverse("home")).content.decode()
    story = Article.objects.first()
    assert story.title.replace("'", "&#x27;") in home
    assert client.get(reverse("content:article", args=[story.slug])).status_code == 200
