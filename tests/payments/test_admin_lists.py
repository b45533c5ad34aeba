"""Staff review money in admin lists: the ledger, donations, donors, refunds, disputes and
the webhook inbox. Filters answer the parameters the revenue dashboard links with; the
totals of the filtered rows are worked out by hand here; money reads as money; each row
links to Stripe's dashboard; the list as filtered exports as streamed CSV; and a page
runs as many queries for 30 rows as for 3.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.states import DisputeStatus, DonationStatus, PaymentKind
from payments.stripe_gateway import dashboard_url
from tests.factories import (
    DisputeFactory,
    DonationFactory,
    DonorFactory,
    PaymentFactory,
    RefundFactory,
    StripeEventFactory,
)
from tests.support.admin import csv_lines, listed, staff

pytestmark = pytest.mark.django_db

LEDGER = "admin:payments_payment_changelist"
LEDGER_CSV = "admin:payments_payment_export_csv"


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


@pytest.fixture
def ledger():
    """Four payments, worked out by hand:

    EUR €25.00, fee €0.88, €5.00 refunded (partly), article "budget", campaign "spring"
    EUR €10.00, fee €0.59, refunded in full, a membership payment, no article
    USD $50.00, fee $1.75, an open dispute, article "budget"
    JPY ¥1,500, fee unknown, a closed (won) dispute, paid last year
    """
    alice = DonorFactory(email="alice@example.org", name="Alice Archer")
    bob = DonorFactory(
        email="bob@example.org", name="=HYPERLINK(evil)", stripe_customer_id="cus_bob"
    )
    rows = {
        "partly": PaymentFactory(
            donor=alice,
            amount=2500,
            fee=88,
            currency="EUR",
            article_slug="budget",
            campaign="spring",
            paid_at=at("2026-03-10"),
            stripe_payment_intent_id="pi_partly",
            stripe_charge_id="ch_partly",
        ),
        "fully": PaymentFactory(
            donor=bob,
            kind=PaymentKind.MEMBERSHIP,
            amount=1000,
            fee=59,
            currency="EUR",
            paid_at=at("2026-03-20"),
            stripe_payment_intent_id=None,
            stripe_charge_id="ch_fully",
            stripe_invoice_id="in_fully",
        ),
        "disputed": PaymentFactory(
            donor=alice,
            amount=5000,
            fee=175,
            currency="USD",
            article_slug="budget",
            paid_at=at("2026-04-02"),
        ),
        "won": PaymentFactory(
            donor=bob, amount=1500, fee=None, net=None, currency="JPY", paid_at=at("2025-12-31")
        ),
    }
    RefundFactory(payment=rows["partly"], amount=500)
    RefundFactory(payment=rows["fully"])
    DisputeFactory(payment=rows["disputed"])
    DisputeFactory(payment=rows["won"], status=DisputeStatus.WON)
    for payment in rows.values():
        payment.refresh_from_db()
    return rows


# --- Totals ---------------------------------------------------------------------------------


def test_the_ledger_totals_the_filtered_rows_per_currency_never_mixed(staff_client, ledger):
    page = staff_client.get(reverse(LEDGER))

    totals = page.context["list_totals"]
    assert totals.headers == ["Currency", "Payments", "Gross", "Refunded", "Fees", "Net"]
    assert totals.rows == [
        # 25.00 + 10.00; 5.00 + 10.00; 0.88 + 0.59; 35.00 - 15.00 - 1.47
        ["EUR", "2", "€35.00", "€15.00", "€1.47", "€18.53"],
        ["JPY", "1", "¥1,500", "¥0", "¥0", "¥1,500"],
        ["USD", "1", "$50.00", "$0.00", "$1.75", "$48.25"],
    ]
    body = page.content.decode()
    assert 'class="list-totals"' in body and "€18.53" in body


def test_the_totals_follow_the_filters_and_take_one_query(staff_client, ledger):
    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get(reverse(LEDGER), {"currency__exact": "EUR", "refunded": "fully"})

    assert page.context["list_totals"].rows == [["EUR", "1", "€10.00", "€10.00", "€0.59", "-€0.59"]]
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1 and "SUM" in grouped[0]


def test_staff_without_view_revenue_see_the_list_but_no_totals(ledger):
    client = staff("payments.view_payment")

    page = client.get(reverse(LEDGER))

    assert page.status_code == 200
    assert "list_totals" not in page.context
    assert "list-totals" not in page.content.decode()
    with_revenue = staff("payments.view_payment", "payments.view_revenue")
    assert with_revenue.get(reverse(LEDGER)).context["list_totals"].rows


def test_refund_dispute_and_donation_lists_total_their_rows(staff_client, ledger):
    DonationFactory(amount=1000, fee_cover=60, currency="EUR", status=DonationStatus.SUCCEEDED)
    DonationFactory(amount=2000, currency="EUR")

    refunds = staff_client.get(reverse("admin:payments_refund_changelist"))
    disputes = staff_client.get(reverse("admin:payments_dispute_changelist"), {"open": "yes"})
    donations = staff_client.get(reverse("admin:payments_donation_changelist"))
    paid = staff_client.get(
        reverse("admin:payments_donation_changelist"), {"status__exact": "succeeded"}
    )

    assert refunds.context["list_totals"].rows == [["EUR", "2", "€15.00"]]
    assert disputes.context["list_totals"].rows == [["USD", "1", "$50.00"]]
    assert donations.context["list_totals"].rows == [["EUR", "2", "€30.00", "€0.60", "€30.60"]]
    assert paid.context["list_totals"].rows == [["EUR", "1", "€10.00", "€0.60", "€10.60"]]


# --- Filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"paid_at__gte": "2026-03-01", "paid_at__lt": "2026-04-01"}, ["partly", "fully"]),
        ({"paid_at__gte": "2026-03-15"}, ["fully", "disputed"]),
        ({"paid_at__lt": "2026-01-01"}, ["won"]),
        ({"currency__exact": "EUR"}, ["partly", "fully"]),
        ({"currency__exact": "usd"}, ["disputed"]),
        ({"kind__exact": "membership"}, ["fully"]),
        ({"article": "budget"}, ["partly", "disputed"]),
        ({"article": ""}, ["fully", "won"]),
        ({"campaign": "spring"}, ["partly"]),
        ({"campaign": ""}, ["fully", "disputed", "won"]),
        ({"refunded": "yes"}, ["partly", "fully"]),
        ({"refunded": "partly"}, ["partly"]),
        ({"refunded": "fully"}, ["fully"]),
        ({"refunded": "no"}, ["disputed", "won"]),
        ({"disputed": "yes"}, ["disputed", "won"]),
        ({"disputed": "open"}, ["disputed"]),
        ({"disputed": "no"}, ["partly", "fully"]),
        ({"article": "budget", "currency__exact": "USD", "disputed": "open"}, ["disputed"]),
    ],
)
def test_the_ledger_filters_by_the_dashboards_parameters(staff_client, ledger, params, expected):
    page = staff_client.get(reverse(LEDGER), params)

    assert listed(page) == sorted(ledger[name].pk for name in expected)


@pytest.mark.parametrize(
    "params",
    [
        {"paid_at__gte": "yesterday"},
        {"paid_at__lt": "2026-02-30"},
        {"paid_at__gte": ""},
        {"currency__exact": "NOPE"},
        {"kind__exact": "nonsense"},
        {"refunded": "maybe"},
        {"disputed": "perhaps"},
        {"article": "<script>"},
        {"donor__id__exact": "x"},
        {"nonexistent": "1"},
    ],
)
def test_a_wrong_filter_value_is_never_a_server_error(staff_client, ledger, params):
    page = staff_client.get(reverse(LEDGER), params)
    export = staff_client.get(reverse(LEDGER_CSV), params)

    assert page.status_code in (200, 302)
    assert export.status_code in (200, 400)


def test_a_date_that_is_not_one_is_ignored_and_said_so(staff_client, ledger):
    page = staff_client.get(reverse(LEDGER), {"paid_at__gte": "2026-13-01"})

    assert len(listed(page)) == 4
    assert "Not a date, ignored: 2026-13-01" in page.content.decode()


def test_the_date_range_form_keeps_the_other_filters(staff_client, ledger):
    page = staff_client.get(
        reverse(LEDGER), {"currency__exact": "EUR", "paid_at__gte": "2026-03-01"}
    )
    body = page.content.decode()

    assert '<input type="hidden" name="currency__exact" value="EUR">' in body
    assert '<input type="date" name="paid_at__gte" value="2026-03-01">' in body
    assert '<input type="date" name="paid_at__lt" value="">' in body
    assert "By paid at" in body and ">This month</a>" in body  # the quick links above it


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("alice@", ["partly", "disputed"]),
        ("ARCHER", ["partly", "disputed"]),
        ("pi_partly", ["partly"]),
        ("ch_fully", ["fully"]),
        ("in_fully", ["fully"]),
        ("cus_bob", ["fully", "won"]),
        ("pi_nothing", []),
    ],
)
def test_the_ledger_is_searched_by_email_name_and_stripe_id(staff_client, ledger, term, expected):
    page = staff_client.get(reverse(LEDGER), {"q": term})

    assert listed(page) == sorted(ledger[name].pk for name in expected)


def test_other_lists_filter_and_search(staff_client, ledger):
    gift = DonationFactory(
        amount=1000,
        currency="USD",
        status=DonationStatus.SUCCEEDED,
        article_slug="budget",
        campaign="spring",
        stripe_payment_intent_id="pi_gift",
    )
    other = DonationFactory()
    donations = reverse("admin:payments_donation_changelist")
    today = timezone.localdate().isoformat()

    assert listed(staff_client.get(donations, {"status__exact": "succeeded"})) == [gift.pk]
    assert listed(staff_client.get(donations, {"currency__exact": "USD"})) == [gift.pk]
    assert listed(staff_client.get(donations, {"kind__exact": "one_time"})) == sorted(
        [gift.pk, other.pk]
    )
    assert listed(staff_client.get(donations, {"article": "budget"})) == [gift.pk]
    assert listed(staff_client.get(donations, {"campaign": "spring"})) == [gift.pk]
    assert listed(staff_client.get(donations, {"created_at__gte": today})) == sorted(
        [gift.pk, other.pk]
    )
    assert listed(staff_client.get(donations, {"created_at__lt": "2000-01-01"})) == []
    assert listed(staff_client.get(donations, {"q": "pi_gift"})) == [gift.pk]
    assert listed(staff_client.get(donations, {"q": gift.donor.email})) == [gift.pk]

    donors = reverse("admin:payments_donor_changelist")
    bob = ledger["fully"].donor
    assert listed(staff_client.get(donors, {"q": "cus_bob"})) == [bob.pk]
    refunds = reverse("admin:payments_refund_changelist")
    assert len(listed(staff_client.get(refunds, {"q": "ch_fully"}))) == 1
    disputes = reverse("admin:payments_dispute_changelist")
    assert len(listed(staff_client.get(disputes, {"currency__exact": "JPY"}))) == 1
    event = StripeEventFactory(stripe_id="evt_findme", type="charge.refunded")
    StripeEventFactory()
    events = reverse("admin:payments_stripeevent_changelist")
    assert listed(staff_client.get(events, {"q": "evt_findme"})) == [event.pk]
    assert listed(staff_client.get(events, {"type": "charge.refunded"})) == [event.pk]


# --- Money, links, width --------------------------------------------------------------------


def test_the_ledger_shows_money_as_money_and_links_each_row_to_stripe(staff_client, ledger):
    body = staff_client.get(reverse(LEDGER)).content.decode()

    assert "€25.00" in body and "€24.12" in body  # amount and net
    assert "€5.00 refunded" in body and "€10.00 refunded (all)" in body
    assert "DISPUTE OPEN" in body and "disputed (closed)" in body
    assert "¥1,500" in body
    link = dashboard_url("payment", "pi_partly")
    assert link == "https://dashboard.stripe.com/test/payments/pi_partly"
    assert f'href="{link}" target="_blank" rel="noopener"' in body
    assert 'href="https://dashboard.stripe.com/test/payments/ch_fully"' in body
    assert 'href="?article=budget"' in body and 'href="?campaign=spring"' in body
    assert len(staff_client.get(reverse(LEDGER)).context["cl"].list_display) <= 9


@override_settings(STRIPE_SECRET_KEY="sk_live_abc")
def test_live_keys_link_to_the_live_dashboard():
    assert dashboard_url("customer", "cus_1") == "https://dashboard.stripe.com/customers/cus_1"
    assert dashboard_url("event", "evt_1") == "https://dashboard.stripe.com/events/evt_1"
    assert dashboard_url("refund", None) is None


def test_a_payments_page_shows_its_money_its_donation_and_its_stripe_objects(staff_client):
    donation = DonationFactory(amount=1500, currency="USD", status=DonationStatus.SUCCEEDED)
    payment = PaymentFactory(
        donor=donation.donor, donation=donation, amount=1500, fee=74, currency="USD"
    )
    RefundFactory(payment=payment, amount=300, stripe_refund_id="re_page")

    body = staff_client.get(
        reverse("admin:payments_payment_change", args=[payment.pk])
    ).content.decode()

    assert "$15.00" in body and "$0.74" in body and "$14.26" in body and "$3.00" in body
    assert "minor units" not in body and ">1500<" not in body
    assert "$15.00 one-time gift (Succeeded)" in body  # the donation, not "from 9"
    assert "https://dashboard.stripe.com/test/refunds/re_page" in body
    assert f"https://dashboard.stripe.com/test/payments/{payment.stripe_payment_intent_id}" in body


def test_refund_dispute_and_donation_pages_show_money(staff_client, ledger):
    refund = ledger["partly"].refunds.get()
    dispute = ledger["disputed"].disputes.get()
    donation = DonationFactory(amount=1000, fee_cover=60, currency="EUR")

    refund_page = staff_client.get(reverse("admin:payments_refund_change", args=[refund.pk]))
    dispute_page = staff_client.get(reverse("admin:payments_dispute_change", args=[dispute.pk]))
    donation_page = staff_client.get(reverse("admin:payments_donation_change", args=[donation.pk]))

    assert "€5.00" in refund_page.content.decode()
    assert "$50.00" in dispute_page.content.decode()
    assert all(m in donation_page.content.decode() for m in ("€10.00", "€0.60", "€10.60"))


# --- Query counts ---------------------------------------------------------------------------


def add_rows(count: int) -> None:
    for n in range(count):
        payment = PaymentFactory(article_slug=f"story-{n}", campaign="spring")
        RefundFactory(payment=payment, amount=100)
        DisputeFactory(payment=payment)
        DonationFactory(stripe_payment_intent_id=f"pi_d{n}-{payment.pk}")
        StripeEventFactory()


@pytest.mark.parametrize(
    "name", ["payment", "donation", "donor", "refund", "dispute", "stripeevent"]
)
def test_each_list_runs_the_same_queries_for_3_or_30_rows(
    staff_client, django_assert_max_num_queries, name
):
    url = reverse(f"admin:payments_{name}_changelist")
    add_rows(3)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    add_rows(27)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = staff_client.get(url)
    assert len(page.context["cl"].result_list) >= 30


# --- CSV export -----------------------------------------------------------------------------


def test_the_ledger_exports_the_filtered_list_as_streamed_csv(staff_client, ledger):
    response = staff_client.get(reverse(LEDGER_CSV), {"refunded": "yes", "o": "-1"})

    rows = csv_lines(response)
    assert rows[0].startswith(
        "paid_at,id,email,name,kind,currency,amount,fee,net,refunded,open_dispute,article,campaign,"
    )
    partly, fully = ledger["partly"], ledger["fully"]
    assert rows[1:] == [
        f"2026-03-20T12:00:00+00:00,{fully.pk},bob@example.org,'=HYPERLINK(evil),membership,"
        f"EUR,10.00,0.59,9.41,10.00,no,,,,,,,ch_fully,in_fully,cus_bob",
        f"2026-03-10T12:00:00+00:00,{partly.pk},alice@example.org,Alice Archer,one_time,"
        f"EUR,25.00,0.88,24.12,5.00,no,budget,spring,,,,pi_partly,ch_partly,,",
    ]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="ledger-{day}.csv"'
    assert "no-store" in response["Cache-Control"]


def test_zero_decimal_currencies_export_whole_units(staff_client, ledger):
    rows = csv_lines(staff_client.get(reverse(LEDGER_CSV), {"currency__exact": "JPY"}))

    assert ",JPY,1500,,,0," in rows[1]


def test_the_export_button_carries_the_lists_filters(staff_client, ledger):
    body = staff_client.get(
        reverse(LEDGER), {"currency__exact": "EUR", "q": "alice", "p": "1"}
    ).content.decode()

    assert f'href="{reverse(LEDGER_CSV)}?currency__exact=EUR&amp;q=alice"' in body
    assert "Export CSV" in body


def test_export_runs_one_query_whatever_the_rows(staff_client, django_assert_max_num_queries):
    add_rows(30)

    with django_assert_max_num_queries(6):  # session, user, permissions, then the rows
        lines = csv_lines(staff_client.get(reverse(LEDGER_CSV)))
    assert len(lines) == 31


@pytest.mark.parametrize("name", ["payment", "donation", "donor", "refund", "dispute"])
def test_staff_without_export_permission_get_no_button_and_403(ledger, name):
    changelist = reverse(f"admin:payments_{name}_changelist")
    export = reverse(f"admin:payments_{name}_export_csv")
    viewer = staff(f"payments.view_{name}")
    exporter = staff(f"payments.view_{name}", "payments.export_csv")

    assert "Export CSV" not in viewer.get(changelist).content.decode()
    assert viewer.get(export).status_code == 403
    assert "Export CSV" in exporter.get(changelist).content.decode()
    response = exporter.get(export)
    assert response.status_code == 200 and csv_lines(response)[0]  # the header at least
    # export_csv alone does not open a list the staff member may not view
    assert staff("payments.export_csv").get(export).status_code == 403


def test_donor_and_event_pages_link_to_stripe(staff_client, ledger):
    donor = ledger["fully"].donor
    event = StripeEventFactory(stripe_id="evt_page")

    donor_page = staff_client.get(reverse("admin:payments_donor_change", args=[donor.pk]))
    event_page = staff_client.get(reverse("admin:payments_stripeevent_change", args=[event.pk]))

    assert "https://dashboard.stripe.com/test/customers/cus_bob" in donor_page.content.decode()
    body = event_page.content.decode()
    assert "https://dashboard.stripe.com/test/events/evt_page" in body
    assert "charge.updated" in body and "ch_x" in body  # the payload, still shown
