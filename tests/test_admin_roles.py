"""Staff roles (content/migrations/0004_staff_roles.py): what a staff member in each
group can open in admin, what is refused, and which actions each list offers."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from members.models import Membership
from members.states import GiftStatus, MembershipKind, MembershipStatus
from tests.factories import (
    ArticleFactory,
    CampaignFactory,
    GiftMembershipFactory,
    MembershipFactory,
    PaymentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

roles = importlib.import_module("content.migrations.0004_staff_roles")


@pytest.fixture(autouse=True)
def _groups():
    """The migration made them; a test that emptied the database may have removed them."""
    roles.add_roles(Group, Permission)


def member_of(*groups: str) -> Client:
    user = UserFactory(is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    client = Client()
    client.force_login(user)
    return client


def status(client: Client, name: str, *args) -> int:
    return client.get(reverse(name, args=args)).status_code


def actions_offered(client: Client, changelist: str) -> set[str]:
    form = client.get(reverse(changelist)).context["action_form"]
    if form is None:
        return set()
    return {value for value, _ in form.fields["action"].choices if value}


def apps_shown(client: Client) -> set[str]:
    return {app["app_label"] for app in client.get(reverse("admin:index")).context["app_list"]}


def test_the_migration_makes_the_three_groups_and_running_it_again_adds_nothing():
    counts = {group.name: group.permissions.count() for group in Group.objects.all()}

    roles.add_roles(Group, Permission)

    assert {"Finance", "Membership", "Editorial"} <= set(counts)
    assert {g.name: g.permissions.count() for g in Group.objects.all()} == counts


def test_undoing_the_migration_removes_the_groups():
    roles.remove_roles(apps, schema_editor=None)

    assert not Group.objects.filter(name__in=roles.ROLES).exists()


# --- Finance --------------------------------------------------------------------------------


def test_finance_sees_the_money_and_may_refund_but_not_change_members_or_articles():
    finance = member_of("Finance")
    payment = PaymentFactory()

    for name in (
        "admin:payments_payment_changelist",
        "admin:payments_refund_changelist",
        "admin:payments_dispute_changelist",
        "admin:payments_donor_changelist",
        "admin:payments_receipt_changelist",
        "admin:payments_stripeevent_changelist",
        "admin:members_membership_changelist",
        "admin:members_giftmembership_changelist",
    ):
        assert status(finance, name) == 200, name
    assert status(finance, "admin:payments_payment_refund", payment.pk) == 200
    change = finance.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert reverse("admin:payments_payment_refund", args=[payment.pk]) in change.content.decode()
    assert status(finance, "admin:members_membership_add") == 403
    assert status(finance, "admin:content_article_changelist") == 403
    assert status(finance, "admin:content_campaign_changelist") == 403


def test_finance_is_offered_the_money_actions_only():
    finance = member_of("Finance")

    assert actions_offered(finance, "admin:payments_payment_changelist") == {"resend_receipts"}
    assert actions_offered(finance, "admin:payments_stripeevent_changelist") == {"process_again"}
    assert actions_offered(finance, "admin:payments_donor_changelist") == {"export_personal_data"}
    assert actions_offered(finance, "admin:members_membership_changelist") == set()


# --- Membership -----------------------------------------------------------------------------


def test_membership_sees_members_and_their_giving_but_may_not_refund():
    staff = member_of("Membership")
    payment = PaymentFactory()

    for name in (
        "admin:members_membership_changelist",
        "admin:members_membership_add",
        "admin:members_user_changelist",
        "admin:members_giftmembership_changelist",
        "admin:members_membershiplevel_changelist",
        "admin:members_newsletter_changelist",
        "admin:payments_payment_changelist",
        "admin:payments_donor_changelist",
        "admin:payments_receipt_changelist",
    ):
        assert status(staff, name) == 200, name
    refund = staff.get(reverse("admin:payments_payment_refund", args=[payment.pk]))
    assert refund.status_code == 302 and "/refund/" not in refund.url
    change = staff.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert "/refund/" not in change.content.decode()  # no link to what they may not do
    for name in (
        "admin:payments_refund_changelist",
        "admin:payments_dispute_changelist",
        "admin:payments_stripeevent_changelist",
        "admin:content_article_changelist",
    ):
        assert status(staff, name) == 403, name


def test_membership_is_offered_the_membership_actions_and_resending_receipts():
    staff = member_of("Membership")

    assert actions_offered(staff, "admin:members_membership_changelist") == {
        "end_now",
        "cancel_at_end",
    }
    assert actions_offered(staff, "admin:payments_payment_changelist") == {"resend_receipts"}
    assert actions_offered(staff, "admin:members_newsletter_changelist") == {"export_subscribers"}
    assert actions_offered(staff, "admin:members_user_changelist") == set()


def test_membership_grants_a_comp_membership_and_ends_a_gift_membership_now():
    staff = member_of("Membership")

    response = staff.post(
        reverse("admin:members_membership_add"),
        {"email": "Guest@Example.org", "ends_at_0": "", "ends_at_1": "", "note": "Partner"},
    )

    assert response.status_code == 302
    granted = Membership.objects.get(email="guest@example.org")
    assert (granted.kind, granted.status) == (MembershipKind.COMP, MembershipStatus.ACTIVE)

    gift = GiftMembershipFactory(status=GiftStatus.CLAIMED)
    gift.membership = MembershipFactory(kind=MembershipKind.GIFT, note="")
    gift.save()
    staff.post(
        reverse("admin:members_membership_changelist"),
        {"action": "end_now", "_selected_action": [gift.membership.pk]},
    )
    gift.membership.refresh_from_db()
    assert gift.membership.status == MembershipStatus.CANCELED
    assert gift.membership.ended_at is not None


# --- Editorial ------------------------------------------------------------------------------


def test_editorial_edits_articles_and_campaigns_and_sees_nothing_about_people_or_money():
    editorial = member_of("Editorial")
    article = ArticleFactory()
    campaign = CampaignFactory()

    for name, args in (
        ("admin:content_article_changelist", ()),
        ("admin:content_article_add", ()),
        ("admin:content_article_change", (article.pk,)),
        ("admin:content_campaign_changelist", ()),
        ("admin:content_campaign_change", (campaign.pk,)),
    ):
        assert status(editorial, name, *args) == 200, name
    for name in (
        "admin:payments_payment_changelist",
        "admin:payments_donor_changelist",
        "admin:payments_refund_changelist",
        "admin:members_membership_changelist",
        "admin:members_membership_add",
        "admin:members_user_changelist",
        "admin:members_giftmembership_changelist",
    ):
        assert status(editorial, name) == 403, name
    assert apps_shown(editorial) == {"content"}
    assert actions_offered(editorial, "admin:content_article_changelist") == {"delete_selected"}


def test_only_finance_reaches_the_refund_form():
    payment = PaymentFactory()
    url = reverse("admin:payments_payment_refund", args=[payment.pk])

    assert member_of("Finance").get(url).status_code == 200
    for group in ("Membership", "Editorial"):
        response = member_of(group).get(url)
        assert response.status_code == 302, group
        assert response.url != url


def test_staff_in_no_group_see_no_app_and_open_nothing():
    nobody = member_of()

    assert apps_shown(nobody) == set()
    for name in (
        "admin:payments_payment_changelist",
        "admin:members_membership_changelist",
        "admin:content_article_changelist",
    ):
        assert status(nobody, name) == 403, name
