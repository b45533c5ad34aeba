"""Staff review memberships and gift memberships in admin lists: the filters the revenue
dashboard links with (counted=active is the dashboard's "active member"), search by email,
name and Stripe id, money as money, Stripe links, CSV export and constant query counts.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.states import (
    CancelReason,
    GiftStatus,
    Interval,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from tests.factories import (
    DonationFactory,
    GiftMembershipFactory,
    MembershipFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    UserFactory,
)
from tests.support.admin import csv_lines, listed, staff

pytestmark = pytest.mark.django_db

MEMBERSHIPS = "admin:members_membership_changelist"
GIFTS = "admin:members_giftmembership_changelist"


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


@pytest.fixture
def members():
    insider = MembershipLevelFactory(name="Insider")
    return {
        "active": PaidMembershipFactory(
            user=UserFactory(email="ann@example.org", display_name="Ann Active"),
            level=insider,
            amount=1000,
            currency="USD",
            starts_at=at("2026-01-05"),
            article_slug="budget",
            campaign="spring",
            stripe_subscription_id="sub_ann",
        ),
        "yearly": PaidMembershipFactory(
            status=MembershipStatus.PAST_DUE,
            interval=Interval.YEAR,
            amount=6000,
            starts_at=at("2025-06-01"),
        ),
        "foreign": PaidMembershipFactory(
            origin=MembershipOrigin.STRIPE, starts_at=at("2026-02-01")
        ),
        "churned": PaidMembershipFactory(
            status=MembershipStatus.CANCELED,
            cancel_category=CancelReason.TOO_EXPENSIVE,
            starts_at=at("2025-01-01"),
            ended_at=at("2026-03-15"),
        ),
        "comp": MembershipFactory(starts_at=at("2026-03-01")),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"counted": "active"}, ["active", "yearly"]),
        ({"kind__exact": "comp"}, ["comp"]),
        ({"status__exact": "past_due"}, ["yearly"]),
        ({"origin__exact": "stripe"}, ["foreign"]),
        ({"currency__exact": "USD"}, ["active"]),
        ({"interval__exact": "year"}, ["yearly"]),
        ({"cancel_category__exact": "too_expensive"}, ["churned"]),
        ({"starts_at__gte": "2026-01-01", "starts_at__lt": "2026-02-01"}, ["active"]),
        ({"ended_at__gte": "2026-03-01", "ended_at__lt": "2026-04-01"}, ["churned"]),
        ({"article": "budget"}, ["active"]),
        ({"campaign": "spring"}, ["active"]),
        ({"counted": "active", "currency__exact": "EUR"}, ["yearly"]),
    ],
)
def test_memberships_filter_by_the_dashboards_parameters(staff_client, members, params, expected):
    page = staff_client.get(reverse(MEMBERSHIPS), params)

    assert listed(page) == sorted(members[name].pk for name in expected)


def test_memberships_filter_by_level(staff_client, members):
    level = members["active"].level

    page = staff_client.get(reverse(MEMBERSHIPS), {"level__id__exact": level.pk})

    assert listed(page) == [members["active"].pk]


@pytest.mark.parametrize(
    "params",
    [
        {"level__id__exact": "x"},
        {"starts_at__gte": "soon"},
        {"ended_at__lt": "2026-02-30"},
        {"counted": "everyone"},
        {"origin__exact": "moon"},
        {"currency__exact": ""},
    ],
)
def test_a_wrong_filter_value_is_never_a_server_error(staff_client, members, params):
    assert staff_client.get(reverse(MEMBERSHIPS), params).status_code in (200, 302)
    export = staff_client.get(reverse("admin:members_membership_export_csv"), params)
    assert export.status_code in (200, 400)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ann@", ["active"]),
        ("Ann Active", ["active"]),
        ("sub_ann", ["active"]),
    ],
)
def test_memberships_are_searched_by_email_name_and_stripe_id(
    staff_client, members, term, expected
):
    page = staff_client.get(reverse(MEMBERSHIPS), {"q": term})

    assert listed(page) == sorted(members[name].pk for name in expected)


def test_memberships_are_found_by_their_stripe_customer(staff_client, members):
    customer = members["yearly"].donor.stripe_customer_id

    assert listed(staff_client.get(reverse(MEMBERSHIPS), {"q": customer})) == [members["yearly"].pk]


def test_the_list_shows_money_per_interval_and_links_to_stripe(staff_client, members):
    body = staff_client.get(reverse(MEMBERSHIPS)).content.decode()

    assert "$10.00 / month" in body and "€60.00 / year" in body
    assert "made in Stripe" in body  # the foreign subscription, flagged
    assert (
        'href="https://dashboard.stripe.com/test/subscriptions/sub_ann" target="_blank" '
        'rel="noopener"' in body
    )


def test_a_memberships_page_shows_its_money_and_stripe_objects(staff_client, members):
    membership = members["active"]

    body = staff_client.get(
        reverse("admin:members_membership_change", args=[membership.pk])
    ).content.decode()

    assert "$10.00 / month" in body
    assert "https://dashboard.stripe.com/test/subscriptions/sub_ann" in body
    assert (
        f"https://dashboard.stripe.com/test/customers/{membership.donor.stripe_customer_id}" in body
    )


def test_the_membership_list_exports_as_csv(staff_client, members):
    member = members["active"]
    member.email = "=cmd@example.org"  # whatever the address, no formula in a spreadsheet
    member.save()

    response = staff_client.get(
        reverse("admin:members_membership_export_csv"), {"counted": "active", "o": "6"}
    )

    rows = csv_lines(response)
    assert rows[0] == (
        "created_at,email,kind,origin,status,level,currency,amount,interval,starts_at,"
        "current_period_end,cancel_at_period_end,cancel_category,ends_at,ended_at,article,"
        "campaign,stripe_subscription,stripe_customer"
    )
    assert len(rows) == 3
    ann = next(row for row in rows if "cmd@" in row)
    assert (
        ",'=cmd@example.org,paid,site,active,Insider,USD,10.00,month,2026-01-05T12:00:00+00:00,"
        in ann
    )
    assert ann.endswith(f",no,,,,budget,spring,sub_ann,{member.donor.stripe_customer_id}")
    assert any(",past_due,,EUR,60.00,year," in row for row in rows)
    assert "no-store" in response["Cache-Control"]
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="memberships-{day}.csv"'


# --- Gift memberships -----------------------------------------------------------------------


@pytest.fixture
def gifts():
    return {
        "sent": GiftMembershipFactory(
            donation=DonationFactory(
                kind="gift",
                status="succeeded",
                amount=3000,
                currency="USD",
                stripe_payment_intent_id="pi_gift",
            ),
            recipient_email="rita@example.org",
            recipient_name="Rita Reader",
            months=3,
            article_slug="budget",
        ),
        "claimed": GiftMembershipFactory(
            status=GiftStatus.CLAIMED, claimed_at=timezone.now(), months=12
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "claimed"}, ["claimed"]),
        ({"months__exact": "3"}, ["sent"]),
        ({"created_at__gte": timezone.localdate().isoformat()}, ["sent", "claimed"]),
        ({"created_at__lt": "2000-01-01"}, []),
        ({"article": "budget"}, ["sent"]),
        ({"q": "Rita"}, ["sent"]),
        ({"q": "pi_gift"}, ["sent"]),
    ],
)
def test_gift_memberships_filter_and_search(staff_client, gifts, params, expected):
    page = staff_client.get(reverse(GIFTS), params)

    assert listed(page) == sorted(gifts[name].pk for name in expected)


def test_a_wrong_gift_filter_is_never_a_server_error(staff_client, gifts):
    assert staff_client.get(reverse(GIFTS), {"months__exact": "many"}).status_code in (200, 302)


def test_gift_memberships_show_and_export_their_money(staff_client, gifts):
    body = staff_client.get(reverse(GIFTS)).content.decode()
    rows = csv_lines(
        staff_client.get(reverse("admin:members_giftmembership_export_csv"), {"months__exact": 3})
    )

    assert "$30.00" in body and "https://dashboard.stripe.com/test/payments/pi_gift" in body
    assert len(rows) == 2
    assert ",rita@example.org,Rita Reader,3,sent,USD,30.00,0.00," in rows[1]
    assert rows[1].endswith(",budget,,pi_gift")


# --- Query counts and permissions -----------------------------------------------------------


def add_rows(count: int) -> None:
    level = MembershipLevelFactory()
    for _ in range(count):
        PaidMembershipFactory(level=level)
        MembershipFactory(user=None, email=f"comp{timezone.now().timestamp()}@example.org")
        GiftMembershipFactory()


@pytest.mark.parametrize("changelist", [MEMBERSHIPS, GIFTS])
def test_each_list_runs_the_same_queries_for_3_or_30_rows(
    staff_client, django_assert_max_num_queries, changelist
):
    add_rows(3)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(reverse(changelist)).status_code == 200
    add_rows(27)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = staff_client.get(reverse(changelist))
    assert len(page.context["cl"].result_list) >= 30


@pytest.mark.parametrize(
    ("model", "view"),
    [("membership", "members.view_membership"), ("giftmembership", "members.view_giftmembership")],
)
def test_export_needs_the_export_permission(members, gifts, model, view):
    changelist = reverse(f"admin:members_{model}_changelist")
    export = reverse(f"admin:members_{model}_export_csv")
    viewer = staff(view)
    exporter = staff(view, "payments.export_csv")

    assert "Export CSV" not in viewer.get(changelist).content.decode()
    assert viewer.get(export).status_code == 403
    assert "Export CSV" in exporter.get(changelist).content.decode()
    assert len(csv_lines(exporter.get(export))) > 1


def test_the_export_streams_in_one_query(staff_client, django_assert_max_num_queries):
    add_rows(20)
    ended = timezone.now() - timedelta(days=1)
    PaidMembershipFactory(status=MembershipStatus.CANCELED, ended_at=ended)

    with django_assert_max_num_queries(6):
        rows = csv_lines(staff_client.get(reverse("admin:members_membership_export_csv")))
    assert len(rows) == 1 + 41
    assert MembershipKind.COMP in "".join(rows)


def test_a_gift_memberships_page_shows_what_was_paid(staff_client, gifts):
    gift = gifts["sent"]

    body = staff_client.get(
        reverse("admin:members_giftmembership_change", args=[gift.pk])
    ).content.decode()

    assert "$30.00" in body and "https://dashboard.stripe.com/test/payments/pi_gift" in body
    assert gift.claim_token not in body
