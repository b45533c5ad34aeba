"""Staff type money in admin forms as they read it ("5" or "5.50"), never in cents."""

import pytest
from django.urls import reverse

from content.models import Campaign, GoalKind
from members.models import LevelAmount
from payments.models import SuggestedAmount
from tests.factories import CampaignFactory, LevelAmountFactory, SuggestedAmountFactory

pytestmark = pytest.mark.django_db


def test_a_suggested_amount_is_typed_in_the_currency_and_stored_in_cents(admin_client):
    response = admin_client.post(
        reverse("admin:payments_suggestedamount_add"),
        {"currency": "USD", "amount": "7.50", "position": "0"},
    )

    assert response.status_code == 302
    assert SuggestedAmount.objects.get().amount == 750


@pytest.mark.parametrize(
    "typed, reason",
    [("abc", "like 10 or 10.50"), ("5.555", "at most 2 decimals"), ("-5", "like 10")],
)
def test_a_money_input_that_is_not_an_amount_is_refused_with_its_reason(
    admin_client, typed, reason
):
    response = admin_client.post(
        reverse("admin:payments_suggestedamount_add"),
        {"currency": "USD", "amount": typed, "position": "0"},
    )

    assert response.status_code == 200
    assert reason in " ".join(response.context["adminform"].form.errors["amount"])
    assert not SuggestedAmount.objects.exists()


def test_a_saved_amount_shows_in_the_currency_in_its_form(admin_client):
    suggestion = SuggestedAmountFactory(currency="USD", amount=1250)
    price = LevelAmountFactory(currency="EUR", amount=900)

    page = admin_client.get(reverse("admin:payments_suggestedamount_change", args=[suggestion.pk]))
    assert page.context["adminform"].form.initial["amount"] == pytest.approx(12.5)
    level = admin_client.get(reverse("admin:members_membershiplevel_change", args=[price.level.pk]))
    assert 'value="9.00"' in level.content.decode()
    assert LevelAmount.objects.get().amount == 900


def campaign_form(**fields) -> dict:
    return {
        "name": "Winter appeal",
        "slug": "winter",
        "goal_kind": GoalKind.MEMBERS,
        "goal": "500",
        "currency": "",
        "starts_at_0": "2026-11-01",
        "starts_at_1": "00:00:00",
        **fields,
    }


def test_a_money_goal_is_typed_in_the_currency_and_a_members_goal_as_a_number(admin_client):
    add = reverse("admin:content_campaign_add")

    money = admin_client.post(
        add, campaign_form(goal_kind=GoalKind.MONEY, goal="5,000", currency="USD")
    )
    members = admin_client.post(add, campaign_form(slug="members", goal="500"))
    fraction = admin_client.post(add, campaign_form(slug="fraction", goal="5.5"))

    assert money.status_code == members.status_code == 302
    assert Campaign.objects.get(slug="winter").goal == 500000
    assert Campaign.objects.get(slug="members").goal == 500
    assert fraction.status_code == 200
    assert "whole number" in " ".join(fraction.context["adminform"].form.errors["goal"])


def test_a_saved_money_goal_shows_in_the_currency(admin_client):
    campaign = CampaignFactory(goal_kind=GoalKind.MONEY, currency="EUR", goal=250000)

    page = admin_client.get(reverse("admin:content_campaign_change", args=[campaign.pk]))

    assert 'value="2500.00"' in page.content.decode()
