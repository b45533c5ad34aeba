"""Staff and memberships in the admin: the list, comp grants, ending and canceling.

Paid memberships are made for real (join() against localstripe); comp ones
through the admin's add form, which calls the grant service.
"""

import re
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from members import selectors
from members.models import Membership, MembershipLevel, User
from members.selectors import has_member_perks
from members.services import comp
from members.states import MembershipKind, MembershipStatus
from tests.factories import PASSWORD, UserFactory
from tests.members.memberships import join
from tests.support.processes import wait_until

CHANGELIST = "admin:members_membership_changelist"


def staff_user() -> User:
    return User.objects.get(is_staff=True)


def grant_in_admin(staff_client, email: str, *, ends_at=None, note: str = "Press pass"):
    """Submit the admin's add form (a comp grant), as staff would."""
    data = {"email": email, "note": note, "ends_at_0": "", "ends_at_1": ""}
    if ends_at is not None:
        local = timezone.localtime(ends_at)
        data.update(ends_at_0=f"{local:%Y-%m-%d}", ends_at_1=f"{local:%H:%M:%S}")
    return staff_client.post(reverse("admin:members_membership_add"), data)


def run_action(staff_client, action: str, *memberships: Membership) -> list[str]:
    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [m.pk for m in memberships]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def paid_membership(email: str, **fields) -> Membership:
    """A paid membership row for list tests (no Stripe needed to show one)."""
    values = {
        "email": email,
        "kind": MembershipKind.PAID,
        "status": MembershipStatus.ACTIVE,
        "amount": 1000,
        "currency": "USD",
        "interval": "month",
        "stripe_subscription_id": f"sub_{email.split('@')[0]}",
        "current_period_end": timezone.now() + timedelta(days=30),
        **fields,
    }
    return Membership.objects.create(**values)


def stripe_subscription(subscription_id: str) -> dict:
    return requests.get(
        f"{settings.STRIPE_API_BASE}/v1/subscriptions/{subscription_id}",
        auth=(settings.STRIPE_SECRET_KEY, ""),
        timeout=10,
    ).json()


def test_staff_list_filter_and_search_memberships_with_comp_apart_from_paid(staff_client):
    level = MembershipLevel.objects.create(name="Insider", slug="insider")
    paid_membership("paying@example.org", level=level)
    comp.grant_comp_membership(email="guest@example.org", note="Partner")

    page = staff_client.get(reverse(CHANGELIST))
    body = page.content.decode()
    assert page.status_code == 200
    assert "paying@example.org" in body and "guest@example.org" in body
    assert "$10.00" in body and "Insider" in body
    assert "Complimentary" in body and "Paid" in body

    comps = staff_client.get(reverse(CHANGELIST), {"kind__exact": "comp"}).content.decode()
    assert "guest@example.org" in comps and "paying@example.org" not in comps

    found = staff_client.get(reverse(CHANGELIST), {"q": "sub_paying"}).content.decode()
    assert "paying@example.org" in found and "guest@example.org" not in found
    found = staff_client.get(reverse(CHANGELIST), {"q": "GUEST@"}).content.decode()
    assert "guest@example.org" in found and "paying@example.org" not in found

    for params in ({"status__exact": "active"}, {"interval__exact": "month"}, {"currency": "USD"}):
        assert staff_client.get(reverse(CHANGELIST), params).status_code == 200
    level_filter = staff_client.get(reverse(CHANGELIST), {"level__id__exact": level.pk})
    assert "paying@example.org" in level_filter.content.decode()


def test_membership_list_runs_the_same_queries_for_3_or_30_rows(
    staff_client, django_assert_max_num_queries
):
    level = MembershipLevel.objects.create(name="Supporter", slug="supporter")

    def add_rows(start: int, stop: int) -> None:
        for n in range(start, stop):
            paid_membership(f"member{n}@example.org", level=level)

    add_rows(0, 3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(reverse(CHANGELIST)).status_code == 200
    add_rows(3, 30)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = staff_client.get(reverse(CHANGELIST))
    assert page.content.decode().count("@example.org</a>") >= 30


def test_staff_change_levels_and_their_amounts_in_one_form(staff_client):
    response = staff_client.post(
        reverse("admin:members_membershiplevel_add"),
        {
            "name": "Champion",
            "slug": "champion",
            "description": "Your name on our page\nA printed report",
            "position": "2",
            "is_active": "on",
            "amounts-TOTAL_FORMS": "2",
            "amounts-INITIAL_FORMS": "0",
            "amounts-MIN_NUM_FORMS": "0",
            "amounts-MAX_NUM_FORMS": "1000",
            "amounts-0-currency": "USD",
            "amounts-0-interval": "month",
            "amounts-0-amount": "25",
            "amounts-1-currency": "EUR",
            "amounts-1-interval": "year",
            "amounts-1-amount": "250.00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    level = MembershipLevel.objects.get(slug="champion")
    assert level.perks == ["Your name on our page", "A printed report"]
    assert sorted(level.amounts.values_list("currency", "interval", "amount")) == [
        ("EUR", "year", 25000),
        ("USD", "month", 2500),
    ]
    assert selectors.level_for(2500, "USD", "month") == level


def test_comp_grant_in_admin_gives_perks_to_that_address_at_once(staff_client):
    reader = UserFactory(email="reporter@example.org")
    assert not has_member_perks(reader)

    response = grant_in_admin(staff_client, "Reporter@Example.org", note="Visiting fellow")

    assert response.status_code == 302
    membership = Membership.objects.get()
    assert (membership.kind, membership.status) == (MembershipKind.COMP, MembershipStatus.ACTIVE)
    assert (membership.email, membership.user) == ("reporter@example.org", reader)
    assert (membership.granted_by, membership.note) == (staff_user(), "Visiting fellow")
    assert membership.ends_at is None
    assert response.url == reverse("admin:members_membership_changelist")
    assert has_member_perks(reader)


def test_the_add_form_only_grants_comp_memberships(staff_client):
    form = staff_client.get(reverse("admin:members_membership_add")).content.decode()
    assert 'name="email"' in form and 'name="ends_at_0"' in form and 'name="note"' in form
    assert 'name="kind"' not in form and 'name="amount"' not in form

    response = staff_client.post(
        reverse("admin:members_membership_add"),
        {"email": "someone@example.org", "kind": "paid", "amount": "1000", "currency": "USD"},
    )

    assert response.status_code == 302
    assert Membership.objects.get().kind == MembershipKind.COMP


def test_comp_grant_reaches_a_reader_who_signs_up_later_once_their_email_is_verified(
    staff_client, client, tasks, mailoutbox
):
    grant_in_admin(staff_client, "newcomer@example.org")
    assert Membership.objects.get().user is None

    client.post(
        reverse("account_signup"),
        {"email": "newcomer@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    user = User.objects.get(email="newcomer@example.org")
    assert not has_member_perks(user)  # anyone can type an address: not theirs until proven

    verification = wait_until(
        lambda: [m for m in mailoutbox if user.email in m.to and "Confirm" in m.subject]
    )[0]
    confirm_path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", verification.body)
    client.post(confirm_path.group(1))

    assert Membership.objects.get().user == user
    assert has_member_perks(user)


def test_an_expired_comp_is_ended_by_the_daily_task_and_its_perks_stop(staff_client):
    reader = UserFactory(email="fellow@example.org")
    grant_in_admin(staff_client, reader.email, ends_at=timezone.now() + timedelta(days=7))
    membership = Membership.objects.get()
    assert has_member_perks(reader)
    assert comp.end_expired_memberships() == 0

    # Staff shorten it to yesterday on its change form (comp end dates stay editable).
    yesterday = timezone.localtime(timezone.now() - timedelta(days=1)).replace(microsecond=0)
    response = staff_client.post(
        reverse("admin:members_membership_change", args=[membership.pk]),
        {
            "ends_at_0": f"{yesterday:%Y-%m-%d}",
            "ends_at_1": f"{yesterday:%H:%M:%S}",
            "note": "Fellowship over",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    assert comp.end_expired_memberships() == 1
    assert comp.end_expired_memberships() == 0

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELED
    assert membership.ended_at == yesterday
    assert not has_member_perks(reader)


def test_stripe_synced_fields_of_a_paid_membership_are_read_only(staff_client):
    membership = paid_membership("paying@example.org")

    form = staff_client.get(reverse("admin:members_membership_change", args=[membership.pk]))
    body = form.content.decode()

    assert form.status_code == 200
    for field in ("status", "amount", "currency", "interval", "stripe_subscription_id"):
        assert f'name="{field}"' not in body
    assert 'name="note"' in body
    staff_client.post(
        reverse("admin:members_membership_change", args=[membership.pk]),
        {"note": "VIP", "status": "canceled", "amount": "1", "stripe_subscription_id": "sub_x"},
    )
    membership.refresh_from_db()
    assert (membership.note, membership.status, membership.amount) == ("VIP", "active", 1000)
    assert membership.stripe_subscription_id == "sub_paying"


@pytest.mark.usefixtures("localstripe")
def test_end_now_on_a_paid_membership_cancels_its_stripe_subscription_and_ends_perks(
    client, staff_client
):
    member = UserFactory(email="ending@example.org")
    client.force_login(member)
    membership = join(client)
    assert has_member_perks(member)

    notes = run_action(staff_client, "end_now", membership)

    assert notes == ["ending@example.org: ended now."]
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELED
    assert membership.ended_at is not None
    assert membership.cancel_category == "staff"  # counted apart in why members left
    assert not has_member_perks(member)
    assert stripe_subscription(membership.stripe_subscription_id)["status"] == "canceled"

    assert run_action(staff_client, "end_now", membership) == ["ending@example.org: already ended."]


@pytest.mark.usefixtures("localstripe")
def test_cancel_at_period_end_keeps_perks_and_refuses_comp_memberships_by_name(
    client, staff_client
):
    member = UserFactory(email="leaving@example.org")
    client.force_login(member)
    membership = join(client)
    granted = comp.grant_comp_membership(email="guest@example.org")

    notes = run_action(staff_client, "cancel_at_end", membership, granted)

    assert notes == [
        "leaving@example.org: will end when the paid period does.",
        "guest@example.org: This membership is not billed by card.",
    ]
    membership.refresh_from_db()
    assert membership.cancel_at_period_end
    assert membership.status == MembershipStatus.ACTIVE
    assert has_member_perks(member)
    assert stripe_subscription(membership.stripe_subscription_id)["cancel_at_period_end"] is True


def test_end_now_on_a_comp_membership_stops_its_perks(staff_client):
    reader = UserFactory(email="guest@example.org")
    granted = comp.grant_comp_membership(email=reader.email)

    assert run_action(staff_client, "end_now", granted) == ["guest@example.org: ended now."]

    granted.refresh_from_db()
    assert granted.status == MembershipStatus.CANCELED
    assert not has_member_perks(reader)


@pytest.mark.parametrize(
    "name",
    [
        "admin:members_membership_changelist",
        "admin:members_membership_add",
        "admin:members_giftmembership_changelist",
        "admin:members_membershiplevel_changelist",
    ],
)
def test_readers_who_are_not_staff_are_sent_to_sign_in(db, client, name):
    client.force_login(UserFactory())

    response = client.get(reverse(name))

    assert response.status_code == 302
    assert "login" in response.url
    assert grant_in_admin(client, "sneaky@example.org").status_code == 302
    assert not Membership.objects.exists()


def test_gift_memberships_are_listed_read_only(staff_client):
    page = staff_client.get(reverse("admin:members_giftmembership_changelist"))

    assert page.status_code == 200
    assert staff_client.get(reverse("admin:members_giftmembership_add")).status_code == 403
