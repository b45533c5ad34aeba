"""The revenue dashboard's figures, on a small ledger whose right answers are worked out
by hand below (March 2026, mostly in USD).

Payments in March (USD):            amount   fee
  p1 one-time, article war-report     1000     59   (dispute opened in March: 1000)
  p2 one-time, war-report, spring     2500    103   (partly refunded in March: 400)
  p3 membership (A, monthly)           500     45   (a dispute on it was won: not counted)
  p4 membership (B, yearly)          12000    378   (B joined from budget-story)
  p5 gift membership, spring          3000    117
                                     -----   ----
  gross 19000, fees 702, refunds 400, disputes 1000 -> net 16898
Not counted: a USD payment on 28 February, a EUR payment in March (other currency),
a refund still pending, a refund in April.

Memberships (paid, joined here, unless said):
  A monthly $5 active, since January          -> active, member at 1 March
  B yearly $120 active, since 5 March         -> active, new
  C monthly €10 past due, since December      -> active, member at 1 March
  D monthly $7 ended 20 March "too expensive" -> member at 1 March, churned
  I monthly $6 from 10 to 25 March            -> new, churned (reason not given)
  J monthly £8 active, cancelling at period end, since June 2025 -> active, at 1 March
  E complimentary; F gift; G a subscription made in Stripe ($50): not members, no MRR
  H joined 12 March, never paid (expired)     -> not new
Active members: A, B, C, J = 4; at 1 March: A, C, D, J = 4; new: B, I = 2;
churned: D, I = 2 -> churn rate 50%.
MRR: USD 12 x 500 + 12000 = ARR 18000 -> MRR 1500; EUR ARR 12000 -> MRR 1000;
GBP ARR 9600 -> MRR 800.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from config.dashboard import DashboardForm
from content.selectors.top_sources import top_sources
from members.selectors import figures as member_figures
from members.states import CancelReason, Interval, MembershipKind, MembershipOrigin
from members.states import MembershipStatus as M
from payments.models import Refund
from payments.selectors import revenue
from payments.selectors.revenue import Period
from payments.states import DisputeStatus, PaymentKind, RefundStatus
from tests.factories import (
    ArticleFactory,
    CampaignFactory,
    DisputeFactory,
    MembershipFactory,
    PaidMembershipFactory,
    PaymentFactory,
    RefundFactory,
)
from tests.support.admin import staff

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "day")
CUSTOM_MARCH = {"period": "custom", "start": "2026-03-01", "end": "2026-03-31", "currency": "USD"}


def on(day: int, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def refund(payment, amount: int, when: datetime, status=RefundStatus.SUCCEEDED) -> Refund:
    made = RefundFactory(payment=payment, amount=amount, status=status)
    Refund.objects.filter(pk=made.pk).update(created_at=when)
    return made


def paid_member(start: datetime, **fields):
    fields.setdefault("currency", "USD")
    return PaidMembershipFactory(starts_at=start, **fields)


@pytest.fixture
def march():
    """The data set of the module docstring."""
    ArticleFactory(slug="war-report", title="The war, day 400")
    ArticleFactory(slug="budget-story", title="Where the budget went")
    CampaignFactory(slug="spring", name="Spring appeal")

    def pay(amount, fee, kind=PaymentKind.ONE_TIME, day=10, currency="USD", **fields):
        return PaymentFactory(
            amount=amount, fee=fee, kind=kind, currency=currency, paid_at=on(day), **fields
        )

    p1 = pay(1000, 59, article_slug="war-report")
    p2 = pay(2500, 103, article_slug="war-report", campaign="spring")
    p3 = pay(500, 45, kind=PaymentKind.MEMBERSHIP)
    pay(12000, 378, kind=PaymentKind.MEMBERSHIP, day=5, article_slug="budget-story")
    pay(3000, 117, kind=PaymentKind.GIFT, day=20, campaign="spring")
    PaymentFactory(amount=9999, fee=1, currency="USD", paid_at=on(28, 2), article_slug="war-report")
    pay(2000, 88, currency="EUR", article_slug="war-report")

    refund(p2, 400, on(15))
    refund(p1, 100, on(16), status=RefundStatus.PENDING)
    refund(p3, 500, on(2, 4))
    DisputeFactory(payment=p1, amount=1000, opened_at=on(18))
    DisputeFactory(payment=p3, amount=500, opened_at=on(19), status=DisputeStatus.WON)

    paid_member(on(10, 1), amount=500)  # A
    paid_member(on(5), amount=12000, interval=Interval.YEAR, article_slug="budget-story")  # B
    paid_member(on(1, 12, 2025), amount=1000, currency="EUR", status=M.PAST_DUE)  # C
    paid_member(
        on(1, 11, 2025),
        amount=700,
        status=M.CANCELED,
        ended_at=on(20),
        cancel_category=CancelReason.TOO_EXPENSIVE,
    )  # D
    paid_member(on(10), amount=600, status=M.CANCELED, ended_at=on(25))  # I
    paid_member(on(1, 6, 2025), amount=800, currency="GBP", cancel_at_period_end=True)  # J
    MembershipFactory(starts_at=on(2))  # E, complimentary
    MembershipFactory(
        kind=MembershipKind.GIFT, starts_at=on(3), ends_at=timezone.now() + timedelta(days=60)
    )  # F
    paid_member(on(4), amount=5000, origin=MembershipOrigin.STRIPE)  # G
    paid_member(on(12), amount=500, status=M.EXPIRED)  # H


def test_money_in_the_period_is_gross_less_fees_refunds_and_withdrawn_disputes(march):
    money = revenue.revenue("USD", MARCH)

    assert (money.gross, money.fees, money.refunds, money.disputes) == (19000, 702, 400, 1000)
    assert money.net == 16898
    assert (money.refund_count, money.dispute_count) == (1, 1)


def test_money_is_split_into_one_time_membership_and_gift_membership(march):
    money = revenue.revenue("USD", MARCH)

    one_time, membership, gift = (money.kind(k) for k in PaymentKind.values)
    assert (one_time.count, one_time.gross) == (2, 3500)
    assert (membership.count, membership.gross) == (2, 12500)
    assert (gift.count, gift.gross) == (1, 3000)
    assert money.average_gift == 1750


def test_each_currency_is_counted_alone(march):
    euros = revenue.revenue("EUR", MARCH)

    assert (euros.gross, euros.fees, euros.refunds, euros.disputes) == (2000, 88, 0, 0)
    assert revenue.revenue("GBP", MARCH).gross == 0


def test_the_chart_series_puts_each_payment_in_its_day_and_kind(march):
    series = {
        timezone.localtime(day).date().day: kinds
        for day, kinds in revenue.revenue("USD", MARCH).series.items()
    }

    assert series == {
        5: {PaymentKind.MEMBERSHIP: 12000},
        10: {PaymentKind.ONE_TIME: 3500, PaymentKind.MEMBERSHIP: 500},
        20: {PaymentKind.GIFT: 3000},
    }


def test_members_new_churned_and_churn_rate(march):
    counts = member_figures.member_counts(MARCH, timezone.now())

    assert (counts.active, counts.at_start, counts.new, counts.churned) == (4, 4, 2, 2)
    assert counts.churn_rate == 0.5
    assert (counts.comp, counts.gift, counts.cancelling) == (1, 1, 1)


def test_mrr_is_per_currency_with_yearly_members_in_twelfths_and_no_foreign_subscription(
    march,
):
    recurring = {
        row.currency: (row.members, row.mrr, row.arr) for row in member_figures.recurring_revenue()
    }

    assert recurring == {
        "EUR": (1, 1000, 12000),
        "GBP": (1, 800, 9600),
        "USD": (2, 1500, 18000),
    }


def test_mrr_rounds_a_yearly_amount_that_twelve_does_not_divide_half_up():
    paid_member(on(1), amount=1000, interval=Interval.YEAR)  # 83.33 a month

    (usd,) = member_figures.recurring_revenue()

    assert (usd.arr, usd.mrr) == (1000, 83)


def test_cancellation_reasons_of_members_who_left_in_the_period(march):
    assert member_figures.cancellation_reasons(MARCH) == [
        ("", 1),
        (CancelReason.TOO_EXPENSIVE, 1),
    ]


def test_top_articles_by_money_members_and_gifts_with_their_titles(march):
    by_money = top_sources("article_slug", "USD", MARCH)
    assert [(r.slug, r.name, r.amount, r.gifts, r.members) for r in by_money] == [
        ("budget-story", "Where the budget went", 12000, 0, 1),
        ("war-report", "The war, day 400", 3500, 2, 0),
    ]
    by_gifts = top_sources("article_slug", "USD", MARCH, sort="gifts")
    assert [r.slug for r in by_gifts] == ["war-report", "budget-story"]
    by_members = top_sources("article_slug", "USD", MARCH, sort="members")
    assert [r.slug for r in by_members] == ["budget-story", "war-report"]


def test_top_campaigns_count_gifts_and_gift_memberships_money(march):
    (spring,) = top_sources("campaign", "USD", MARCH)

    assert (spring.name, spring.amount, spring.gifts, spring.members) == (
        "Spring appeal",
        5500,
        1,
        0,
    )


DASHBOARD = "/admin/revenue/"
FINANCE = [
    "payments.view_revenue",
    "payments.view_payment",
    "payments.view_refund",
    "payments.view_dispute",
    "members.view_membership",
]


def test_the_page_shows_every_figure_formatted_as_money(march):
    page = staff(*FINANCE).get(DASHBOARD, CUSTOM_MARCH)

    assert page.status_code == 200
    text = page.content.decode()
    for shown in [
        "$190.00",  # gross
        "-$7.02",  # fees
        "-$4.00",  # refunds
        "-$10.00",  # disputes
        "$168.98",  # net
        "$35.00",  # one-time
        "$125.00",  # membership
        "$30.00",  # gift membership
        "$17.50",  # average gift
        "50.0%",  # churn
        "$15.00",  # MRR USD
        "$180.00",  # ARR USD
        "€10.00",  # MRR EUR
        "£8.00",  # MRR GBP
        "It costs too much right now",
        "Where the budget went",
        "Spring appeal",
    ]:
        assert shown in text, shown


def test_every_money_figure_links_to_the_ledger_filtered_the_same_way(march):
    context = staff(*FINANCE).get(DASHBOARD, CUSTOM_MARCH).context
    gross = context["headline"][0]

    assert gross.href.startswith(reverse("admin:payments_payment_changelist"))
    assert "currency__exact=USD" in gross.href
    assert "paid_at__gte=2026-03-01" in gross.href
    assert "paid_at__lt=2026-04-01" in gross.href
    one_time = context["by_kind"][0]
    assert "kind__exact=one_time" in one_time.href
    assert all(figure.href for figure in context["headline"] + context["members"])


def test_staff_without_the_list_permission_see_figures_without_links(march):
    context = staff("payments.view_revenue").get(DASHBOARD, CUSTOM_MARCH).context

    assert context["headline"][0].value == "$190.00"
    assert not any(figure.href for figure in context["headline"] + context["members"])


def test_staff_without_the_revenue_permission_see_neither_the_page_nor_the_summary(march):
    client = staff("payments.view_payment")

    assert client.get(DASHBOARD).status_code == 403
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "Revenue dashboard" not in index.content.decode()


def test_the_admin_index_leads_with_this_months_summary():
    PaymentFactory(amount=4200, fee=100, currency="USD")
    paid_member(timezone.now(), amount=500)

    page = staff(*FINANCE).get(reverse("admin:index"))

    text = page.content.decode()
    assert text.index("Revenue dashboard") < text.index("app-members")
    assert "$42.00" in text  # gross this month
    assert "MRR USD" in text


@pytest.mark.parametrize(
    "query, field",
    [
        ({"period": "custom", "start": "2026-03-01"}, "end"),
        ({"period": "custom", "start": "nonsense", "end": "2026-03-01"}, "start"),
        ({"period": "custom", "start": "2026-03-02", "end": "2026-03-01"}, "end"),
        ({"period": "custom", "start": "1990-01-01", "end": "2026-03-01"}, "end"),
        ({"period": "forever"}, "period"),
        ({"currency": "XXX"}, "currency"),
        ({"by": "hour"}, "by"),
        ({"sort": "drop table"}, "sort"),
    ],
)
def test_bad_choices_get_a_400_naming_the_field(query, field):
    page = staff(*FINANCE).get(DASHBOARD, query)

    assert page.status_code == 400
    assert field in page.context["form"].errors


def test_buckets_follow_the_period_length_and_can_be_chosen():
    assert DashboardForm(CUSTOM_MARCH).is_valid()
    client = staff(*FINANCE)

    assert client.get(DASHBOARD, CUSTOM_MARCH).context["period"].by == "day"
    year = {"period": "custom", "start": "2025-01-01", "end": "2025-12-31", "currency": "USD"}
    assert client.get(DASHBOARD, year).context["period"].by == "month"
    years = {**year, "start": "2023-01-01", "by": "day"}
    assert client.get(DASHBOARD, years).context["period"].by == "month"
    assert "too thin" in client.get(DASHBOARD, years).context["bucket_note"]
    weeks = client.get(DASHBOARD, {**CUSTOM_MARCH, "by": "week"})
    assert weeks.context["period"].by == "week"
    assert len(weeks.context["revenue_chart"].labels) >= 1


@pytest.mark.parametrize("period", ["this_month", "last_month", "this_year", "last_year"])
def test_each_named_period_opens(period):
    page = staff(*FINANCE).get(DASHBOARD, {"period": period, "currency": "EUR"})

    assert page.status_code == 200


def test_the_query_count_does_not_grow_with_the_data(django_assert_max_num_queries, march):
    client = staff(*FINANCE)
    client.get(DASHBOARD, CUSTOM_MARCH)  # sessions and permissions cached alike below
    with django_assert_max_num_queries(17) as small:
        client.get(DASHBOARD, CUSTOM_MARCH)
    for day in range(1, 29):
        PaymentFactory(
            amount=100 + day, currency="USD", paid_at=on(day), article_slug=f"story-{day}"
        )
        paid_member(on(day), amount=500, article_slug=f"story-{day}", campaign="spring")
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(DASHBOARD, CUSTOM_MARCH)


def every_link(context) -> list[str]:
    figures = context["headline"] + context["by_kind"] + context["members"]
    rows = context["recurring"] + context["reasons"]
    sources = context["top_articles"] + context["top_campaigns"]
    charts = context["revenue_chart"].bars + context["members_chart"].bars
    return [
        *(figure.href for figure in figures if figure.href),
        *(row["href"] for row in rows),
        *(row["money_href"] for row in sources),
        *(row["members_href"] for row in sources),
        *(bar.href for bar in charts),
    ]


def test_every_link_opens_its_list_with_the_rows_the_figure_counts(march, admin_client):
    context = admin_client.get(DASHBOARD, CUSTOM_MARCH).context
    links = every_link(context)
    assert len(links) > 30

    for link in links:
        page = admin_client.get(link)
        assert page.status_code == 200, link
        assert "e=1" not in page.request["QUERY_STRING"], link

    def rows(href: str) -> int:
        return admin_client.get(href).context["cl"].result_count

    headline = {figure.label: figure for figure in context["headline"] + context["members"]}
    assert rows(headline["Gross"].href) == 5
    assert rows(headline["Refunds"].href) == 1
    assert rows(headline["Disputes"].href) == 1
    assert rows(headline["Active members"].href) == 4
    assert rows(headline["New members"].href) == 2
    assert rows(headline["Churned members"].href) == 2
    assert [rows(reason["href"]) for reason in context["reasons"]] == [1, 1]
    assert [rows(row["href"]) for row in context["recurring"]] == [1, 1, 2]
    war_report = context["top_articles"][1]
    assert rows(war_report["money_href"]) == 2
