"""Newsletters: staff define them, readers choose theirs on the account page (members-only
ones for members), the mailing tool gets each list as CSV, and a member whose perks end
leaves the members-only lists."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import Membership, Newsletter, NewsletterSubscription
from members.services import newsletters, self_service, stripe_sync
from members.services.comp import end_expired_memberships, grant_comp_membership
from members.states import AnnouncedPhase
from payments import stripe_gateway as gateway
from tests.factories import MembershipFactory, NewsletterFactory, PaidMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = reverse("members:account")
CHOOSE = reverse("members:newsletters")
CHANGELIST = reverse("admin:members_newsletter_changelist")


@pytest.fixture
def lists() -> tuple[Newsletter, Newsletter]:
    """A public newsletter and a members-only one."""
    public = NewsletterFactory(
        name="The Morning Brief", slug="morning-brief", description="Every weekday at 7."
    )
    insiders = NewsletterFactory(
        name="From the newsroom", slug="from-the-newsroom", members_only=True, description=""
    )
    return public, insiders


def on(user) -> set[str]:
    return set(
        NewsletterSubscription.objects.filter(user=user).values_list("newsletter__slug", flat=True)
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def member() -> Membership:
    return MembershipFactory(announced_phase=AnnouncedPhase.ACTIVE, welcomed_at=timezone.now())


# --- Choosing ------------------------------------------------------------------------------


def test_a_member_sees_every_newsletter_and_chooses_theirs(lists):
    public, insiders = lists
    user = member().user
    client = signed_in(user)

    page = client.get(ACCOUNT).content.decode()
    assert "The Morning Brief" in page and "From the newsroom" in page
    assert "Every weekday at 7." in page

    response = client.post(CHOOSE, {"newsletters": [public.slug, insiders.slug]}, follow=True)
    assert response.redirect_chain[-1][0] == ACCOUNT + "#newsletters"
    assert "Your newsletters are saved." in response.content.decode()
    assert on(user) == {public.slug, insiders.slug}
    assert 'value="from-the-newsroom" checked' in client.get(ACCOUNT).content.decode()

    client.post(CHOOSE, {"newsletters": [insiders.slug]})
    assert on(user) == {insiders.slug}
    client.post(CHOOSE, {})
    assert on(user) == set()


def test_choosing_again_keeps_when_the_reader_first_subscribed(lists):
    public, _ = lists
    user = UserFactory()
    newsletters.choose_newsletters(user, [public.slug])
    since = NewsletterSubscription.objects.get(user=user).subscribed_at

    newsletters.choose_newsletters(user, [public.slug])

    assert NewsletterSubscription.objects.get(user=user).subscribed_at == since


def test_a_signed_in_reader_who_is_not_a_member_gets_the_public_ones_only(lists):
    public, insiders = lists
    user = UserFactory()
    client = signed_in(user)

    page = client.get(ACCOUNT).content.decode()
    assert "The Morning Brief" in page and "From the newsroom" not in page

    response = client.post(CHOOSE, {"newsletters": [public.slug, insiders.slug]}, follow=True)
    assert "Choose among the newsletters offered to you." in response.content.decode()
    assert on(user) == set()  # refused as a whole: nothing stored
    client.post(CHOOSE, {"newsletters": [public.slug]})
    assert on(user) == {public.slug}


def test_a_switched_off_newsletter_is_neither_offered_nor_changed(lists):
    public, _ = lists
    user = UserFactory()
    newsletters.choose_newsletters(user, [public.slug])
    Newsletter.objects.filter(pk=public.pk).update(is_active=False)

    assert "The Morning Brief" not in signed_in(user).get(ACCOUNT).content.decode()
    signed_in(user).post(CHOOSE, {})
    assert on(user) == {public.slug}


def test_choosing_takes_a_signed_in_post_with_its_csrf_token(lists):
    public, _ = lists
    user = UserFactory()

    assert Client().post(CHOOSE, {"newsletters": [public.slug]}).status_code == 302  # sign in
    assert signed_in(user).get(CHOOSE).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(CHOOSE, {"newsletters": [public.slug]}).status_code == 403
    assert NewsletterSubscription.objects.count() == 0


def test_one_reader_never_sees_or_changes_another_readers_newsletters(lists):
    public, insiders = lists
    ana, ben = member().user, UserFactory()
    newsletters.choose_newsletters(ana, [public.slug, insiders.slug])

    signed_in(ben).post(CHOOSE, {"newsletters": [], "user": ana.pk})
    page = signed_in(ben).get(ACCOUNT).content.decode()

    assert on(ana) == {public.slug, insiders.slug}
    assert "checked" not in page


# --- Losing membership -------------------------------------------------------------------


def test_a_member_whose_membership_ends_leaves_the_members_only_lists_and_keeps_the_rest(lists):
    public, insiders = lists
    membership = grant_comp_membership(email=UserFactory().email)
    user = membership.user
    newsletters.choose_newsletters(user, [public.slug, insiders.slug])

    self_service.end_membership_now(membership)

    assert on(user) == {public.slug}


def test_a_gift_or_comp_membership_running_out_drops_the_members_only_lists(lists):
    public, insiders = lists
    user = UserFactory()
    membership = grant_comp_membership(
        email=user.email, ends_at=timezone.now() + timedelta(days=30)
    )
    newsletters.choose_newsletters(user, [public.slug, insiders.slug])
    Membership.objects.filter(pk=membership.pk).update(ends_at=timezone.now())

    end_expired_memberships()

    assert on(user) == {public.slug}


def lapse(membership: Membership, status: str) -> None:
    """Stripe's subscription event, as the handler applies it."""
    subscription = gateway.SubscriptionInfo(
        id=membership.stripe_subscription_id,
        status=status,
        customer_id=membership.donor.stripe_customer_id,
        amount=membership.amount,
        currency=membership.currency,
        interval=membership.interval,
        plan_id=None,
        item_id=None,
        current_period_end=membership.current_period_end,
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        latest_invoice_id=None,
        created=timezone.now(),
    )
    stripe_sync.sync_subscription(subscription, as_of=timezone.now())


def test_a_paid_membership_lapsing_drops_the_members_only_lists_but_past_due_does_not(lists):
    public, insiders = lists
    membership = PaidMembershipFactory(
        announced_phase=AnnouncedPhase.ACTIVE,
        welcomed_at=timezone.now(),
        stripe_synced_at=timezone.now() - timedelta(hours=1),
    )
    user = membership.user
    newsletters.choose_newsletters(user, [public.slug, insiders.slug])

    lapse(membership, "past_due")  # Stripe is retrying: perks stay
    assert on(user) == {public.slug, insiders.slug}
    lapse(membership, "unpaid")  # Stripe gave up retrying: perks end
    assert on(user) == {public.slug}


def test_a_member_with_another_live_membership_keeps_the_members_only_lists(lists):
    public, insiders = lists
    user = UserFactory()
    grant_comp_membership(email=user.email, note="Staff")
    gift = grant_comp_membership(email=user.email, note="A second one")
    newsletters.choose_newsletters(user, [public.slug, insiders.slug])

    self_service.end_membership_now(gift)

    assert on(user) == {public.slug, insiders.slug}


# --- The CSV for the mailing tool --------------------------------------------------------------


def export(client: Client, newsletter: Newsletter):
    return client.post(
        CHANGELIST, {"action": "export_subscribers", "_selected_action": [newsletter.pk]}
    )


def rows_of(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_staff_export_one_newsletter_as_a_streamed_csv_of_email_name_and_since(lists, staff_client):
    public, insiders = lists
    ana = UserFactory(email="ana@example.org", display_name="Ana Lima")
    ben = UserFactory(email="ben@example.org", display_name="=HYPERLINK(1)")
    newsletters.choose_newsletters(ana, [public.slug])
    newsletters.choose_newsletters(ben, [public.slug])
    newsletters.choose_newsletters(member().user, [insiders.slug])

    response = export(staff_client, public)

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="morning-brief-')
    rows = rows_of(response)
    assert rows[0] == ["email", "name", "since"]
    assert [row[:2] for row in rows[1:]] == [
        ["ana@example.org", "Ana Lima"],
        ["ben@example.org", "'=HYPERLINK(1)"],  # never a formula in a spreadsheet
    ]
    since = NewsletterSubscription.objects.get(user=ana).subscribed_at
    assert rows[1][2] == since.isoformat()


def test_a_members_only_export_holds_only_those_who_are_members_now(lists, staff_client):
    _, insiders = lists
    still = member()
    gone = member()
    newsletters.choose_newsletters(still.user, [insiders.slug])
    newsletters.choose_newsletters(gone.user, [insiders.slug])
    # Its end date passed an instant ago; the hourly task has not ended it yet.
    Membership.objects.filter(pk=gone.pk).update(ends_at=timezone.now())

    rows = rows_of(export(staff_client, insiders))

    assert [row[0] for row in rows[1:]] == [still.user.email]


def test_export_takes_its_own_permission_and_one_newsletter_at_a_time(lists):
    public, insiders = lists
    newsletters.choose_newsletters(UserFactory(email="ana@example.org"), [public.slug])
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_newsletter"))
    client = signed_in(viewer)

    offered = client.get(CHANGELIST).context["action_form"]
    assert offered is None or "export_subscribers" not in dict(offered.fields["action"].choices)
    response = export(client, public)
    assert "ana@example.org" not in response.content.decode()

    viewer.user_permissions.add(Permission.objects.get(codename="export_subscribers"))
    client = signed_in(viewer)
    assert export(client, public).status_code == 200
    both = client.post(
        CHANGELIST,
        {"action": "export_subscribers", "_selected_action": [public.pk, insiders.pk]},
        follow=True,
    )
    assert "Export one newsletter at a time." in both.content.decode()


def test_erasing_an_account_takes_it_off_every_list(lists):
    from members import privacy

    public, _ = lists
    user = UserFactory()
    newsletters.choose_newsletters(user, [public.slug])

    assert privacy.export_person(privacy.person_of_user(user))["newsletters"][0]["newsletter"] == (
        "The Morning Brief"
    )
    privacy.erase_person(privacy.person_of_user(user))

    assert NewsletterSubscription.objects.count() == 0
