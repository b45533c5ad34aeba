"""The supporters page (/supporters/): members who chose it, by name only, longest-standing
first, with their level when the level says so; one click on the account page puts a
member on it or takes them off; a member whose membership ends leaves it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import Membership
from members.services import self_service, supporters
from members.states import MembershipStatus
from tests.factories import (
    MembershipFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

WALL = reverse("members:supporters")
ACCOUNT = reverse("members:account")
CHOOSE = reverse("members:supporters_wall")


def listed_member(name: str, *, days: int = 10, **membership) -> Membership:
    """A member who chose the page, a member for `days` days."""
    user = UserFactory(display_name=name, on_supporters_wall=True)
    return MembershipFactory(
        user=user, starts_at=timezone.now() - timedelta(days=days), **membership
    )


def names_on_the_wall(client: Client | None = None) -> list[str]:
    page = (client or Client()).get(WALL)
    assert page.status_code == 200
    return [row["display_name"] for row in page.context["page"].object_list]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_wall_lists_members_who_chose_it_longest_standing_first_by_name_only():
    listed_member("Newer Member", days=3)
    listed_member("Founding Member", days=400)
    listed_member("Middle Member", days=40)
    UserFactory(display_name="Never Joined", on_supporters_wall=True)  # no membership
    MembershipFactory(user=UserFactory(display_name="Quiet Member"))  # did not choose it
    listed_member("")  # no name to show: never listed by email instead

    page = Client().get(WALL).content.decode()

    assert names_on_the_wall() == ["Founding Member", "Middle Member", "Newer Member"]
    assert "Quiet Member" not in page and "Never Joined" not in page
    emails = Membership.objects.values_list("email", flat=True)
    assert not [email for email in emails if email in page]  # no address, ever


def test_the_level_is_shown_only_when_the_level_says_so():
    champion = MembershipLevelFactory(name="Champion", shown_on_supporters_wall=True)
    insider = MembershipLevelFactory(name="Insider", shown_on_supporters_wall=False)
    user = UserFactory(display_name="Olena Koval", on_supporters_wall=True)
    PaidMembershipFactory(user=user, level=champion)
    other = UserFactory(display_name="Ben Okafor", on_supporters_wall=True)
    PaidMembershipFactory(user=other, level=insider)

    rows = list(Client().get(WALL).context["page"].object_list)
    page = Client().get(WALL).content.decode()

    assert {row["display_name"]: row["level_name"] for row in rows} == {
        "Olena Koval": "Champion",
        "Ben Okafor": None,
    }
    assert "Champion" in page and "Insider" not in page


def test_members_whose_membership_ended_or_lapsed_disappear_from_the_wall():
    staying = listed_member("Staying Member")
    ended = listed_member("Ended Member")
    expired = listed_member("Expired Gift", ends_at=timezone.now() + timedelta(days=1))
    lapsed_user = UserFactory(display_name="Lapsed Member", on_supporters_wall=True)
    PaidMembershipFactory(user=lapsed_user, status=MembershipStatus.UNPAID)
    past_due_user = UserFactory(display_name="Retrying Member", on_supporters_wall=True)
    PaidMembershipFactory(user=past_due_user, status=MembershipStatus.PAST_DUE)
    assert "Ended Member" in names_on_the_wall()

    self_service.end_membership_now(ended)
    Membership.objects.filter(pk=expired.pk).update(ends_at=timezone.now())

    # Past due: Stripe is still retrying, perks stay (and so does the name).
    assert names_on_the_wall() == ["Staying Member", "Retrying Member"]
    assert staying.user.on_supporters_wall


def test_a_member_goes_on_and_off_the_wall_with_one_click_each():
    membership = MembershipFactory(user=UserFactory(display_name="Ana Lima"))
    client = signed_in(membership.user)
    assert "List my name" in client.get(ACCOUNT).content.decode()

    response = client.post(CHOOSE, {"listed": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == ACCOUNT + "#supporters-wall"
    assert "Your name is on our supporters page." in response.content.decode()
    assert names_on_the_wall() == ["Ana Lima"]
    assert "Take my name off the page" in response.content.decode()

    response = client.post(CHOOSE, {"listed": "0"}, follow=True)
    assert "Your name is no longer on our supporters page." in response.content.decode()
    assert names_on_the_wall() == []


def test_going_on_the_wall_takes_a_name_and_a_membership():
    nameless = MembershipFactory(user=UserFactory(display_name="")).user
    reader = UserFactory(display_name="Not A Member")

    response = signed_in(nameless).post(CHOOSE, {"listed": "1"}, follow=True)
    assert "Add your name first" in response.content.decode()
    response = signed_in(reader).post(CHOOSE, {"listed": "1"}, follow=True)
    assert "The supporters page lists members only." in response.content.decode()

    nameless.refresh_from_db()
    reader.refresh_from_db()
    assert not nameless.on_supporters_wall and not reader.on_supporters_wall
    assert "List my name" not in signed_in(reader).get(ACCOUNT).content.decode()


def test_a_former_member_can_still_take_their_name_off():
    membership = listed_member("Former Member")
    self_service.end_membership_now(membership)

    signed_in(membership.user).post(CHOOSE, {"listed": "0"})

    membership.user.refresh_from_db()
    assert not membership.user.on_supporters_wall


def test_the_choice_is_a_signed_in_post_with_its_csrf_token_and_only_ones_own():
    ana = MembershipFactory(user=UserFactory(display_name="Ana Lima")).user
    ben = listed_member("Ben Okafor").user

    assert Client().post(CHOOSE, {"listed": "1"}).status_code == 302  # to sign in
    assert signed_in(ana).get(CHOOSE).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ana)
    assert strict.post(CHOOSE, {"listed": "1"}).status_code == 403
    signed_in(ana).post(CHOOSE, {"listed": "0", "user": ben.pk})

    ben.refresh_from_db()
    assert ben.on_supporters_wall and names_on_the_wall() == ["Ben Okafor"]


def test_a_long_wall_is_paged(settings):
    settings.SUPPORTERS_PER_PAGE = 2
    for n in range(5):
        listed_member(f"Member {n}", days=100 - n)

    assert names_on_the_wall() == ["Member 0", "Member 1"]
    last = Client().get(WALL + "?page=3")
    assert [row["display_name"] for row in last.context["page"].object_list] == ["Member 4"]
    assert "Page 3 of 3" in last.content.decode()
    assert Client().get(WALL + "?page=nonsense").status_code == 200


def test_erasing_an_account_takes_it_off_the_wall():
    from members import privacy

    membership = listed_member("Ana Lima")

    privacy.erase_person(privacy.person_of_user(membership.user))

    membership.user.refresh_from_db()
    assert not membership.user.on_supporters_wall and names_on_the_wall() == []


def test_the_service_refuses_the_same_as_the_page():
    from config.errors import Refused

    user = UserFactory(display_name="  ")
    MembershipFactory(user=user)

    with pytest.raises(Refused) as refused:
        supporters.list_on_supporters_wall(user, True)

    assert refused.value.field == "display_name"
