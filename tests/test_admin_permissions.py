"""Staff can do in admin only what their permissions allow.

Every admin action that changes anything declares the permission it needs; a
staff member with view permissions only can look but not act. Only superusers
make staff, superusers and groups.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from payments.models import Receipt, StripeEvent
from payments.states import EventStatus
from tests.factories import PaymentFactory, UserFactory
from tests.support.admin import staff_member as staff

pytestmark = pytest.mark.django_db

VIEW_ONLY = [
    "payments.view_payment",
    "payments.view_receipt",
    "payments.view_stripeevent",
    "members.view_membership",
    "members.view_user",
]


def run_action(client: Client, changelist: str, action: str, *objects) -> list[str]:
    """Post the action as the changelist's form would; the messages the admin answered."""
    response = client.post(
        reverse(changelist),
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )
    return [str(message) for message in get_messages(response.wsgi_request)]


def actions_offered(client: Client, changelist: str) -> set[str]:
    form = client.get(reverse(changelist)).context["action_form"]
    if form is None:  # the page shows no action menu at all
        return set()
    return {value for value, _ in form.fields["action"].choices if value}


@pytest.fixture
def paid_membership() -> Membership:
    return Membership.objects.create(
        email="member@example.org",
        kind=MembershipKind.PAID,
        status=MembershipStatus.ACTIVE,
        amount=1000,
        currency="USD",
        interval="month",
        stripe_subscription_id="sub_view_only",
    )


def test_a_view_only_staff_member_is_offered_no_action_that_changes_anything():
    _, client = staff(*VIEW_ONLY)

    assert actions_offered(client, "admin:payments_payment_changelist") == set()
    assert actions_offered(client, "admin:payments_stripeevent_changelist") == set()
    assert actions_offered(client, "admin:members_membership_changelist") == set()


def test_a_view_only_staff_member_cannot_end_or_cancel_a_membership(client, paid_membership):
    _, staff_client = staff(*VIEW_ONLY)

    for action in ("end_now", "cancel_at_end"):
        said = run_action(
            staff_client, "admin:members_membership_changelist", action, paid_membership
        )
        assert not [line for line in said if paid_membership.email in line]  # never tried

    paid_membership.refresh_from_db()
    assert paid_membership.status == MembershipStatus.ACTIVE  # Stripe never asked
    assert not paid_membership.cancel_at_period_end


def test_a_view_only_staff_member_cannot_resend_receipts(mailoutbox):
    payment = PaymentFactory()
    Receipt.objects.create(
        payment=payment, number="2026-00000009", email=payment.donor.email, sent_at=timezone.now()
    )
    _, client = staff(*VIEW_ONLY)

    run_action(client, "admin:payments_payment_changelist", "resend_receipts", payment)

    assert mailoutbox == []
    assert Receipt.objects.get().times_sent == 0


def test_a_view_only_staff_member_cannot_process_events_again():
    event = StripeEvent.objects.create(
        stripe_id="evt_done",
        type="customer.created",
        stripe_created=timezone.now(),
        payload={},
        status=EventStatus.IGNORED,
    )
    _, client = staff(*VIEW_ONLY)

    run_action(client, "admin:payments_stripeevent_changelist", "process_again", event)

    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED


def test_a_view_only_staff_member_cannot_refund():
    payment = PaymentFactory()
    _, client = staff(*VIEW_ONLY)

    response = client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]),
        {"amount": "1", "request_key": "5b8e5a3c-0f5e-4a51-9b3c-2a1d2a1d2a1d"},
    )

    assert response.status_code == 302
    assert not payment.refunds.exists()


def test_staff_with_the_permission_are_offered_each_action():
    _, client = staff(
        *VIEW_ONLY,
        "payments.resend_receipt",
        "payments.reprocess_stripeevent",
        "members.change_membership",
    )

    assert actions_offered(client, "admin:payments_payment_changelist") == {"resend_receipts"}
    assert actions_offered(client, "admin:payments_stripeevent_changelist") == {"process_again"}
    assert actions_offered(client, "admin:members_membership_changelist") == {
        "end_now",
        "cancel_at_end",
    }


# --- Powers -----------------------------------------------------------------------------


def test_staff_who_may_change_users_cannot_make_themselves_superuser_or_join_groups():
    admins = Group.objects.create(name="Everything")
    user, client = staff("members.view_user", "members.change_user")
    url = reverse("admin:members_user_change", args=[user.pk])

    client.post(
        url,
        {
            "email": user.email,
            "display_name": "Me",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [admins.pk],
            "user_permissions": [Permission.objects.first().pk],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    user.refresh_from_db()
    assert user.display_name == "Me"  # the rest of the form was saved
    assert not user.is_superuser
    assert not user.groups.exists()
    assert user.user_permissions.count() == 2


def test_staff_who_may_change_users_cannot_change_a_superusers_account():
    boss, _ = staff(superuser=True)
    _, client = staff("members.view_user", "members.change_user")

    page = client.get(reverse("admin:members_user_change", args=[boss.pk]))
    password = client.get(reverse("admin:auth_user_password_change", args=[boss.pk]))

    assert 'name="email"' not in page.content.decode()  # shown read-only
    assert password.status_code == 403


def test_a_superuser_may_grant_staff_and_superuser():
    _, client = staff(superuser=True)
    reader = UserFactory()

    client.post(
        reverse("admin:members_user_change", args=[reader.pk]),
        {
            "email": reader.email,
            "display_name": reader.display_name,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    reader.refresh_from_db()
    assert reader.is_staff and reader.is_superuser
