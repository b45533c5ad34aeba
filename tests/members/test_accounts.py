"""Member accounts through allauth: sign-up, verification, codes, resets, one email one account.

Account emails leave through a Celery task (the real worker when a broker is
configured), so these tests commit and wait for the outbox.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from members.models import User
from tests.factories import PASSWORD, UserFactory
from tests.support.processes import wait_until

NEW_PASSWORD = "a quite different passphrase 42"


def emails_to(address: str, count: int = 1) -> list:
    return wait_until(
        lambda: (
            (found := [m for m in mail.outbox if address in m.to]) and len(found) >= count and found
        )
    )


def link_in(message, path_start: str) -> str:
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S+)", message.body)
    assert match, f"no {path_start} link in:\n{message.body}"
    return match.group(1)


def is_signed_in(client) -> bool:
    return client.get(reverse("members:account")).status_code == 200


@pytest.fixture
def outbox(mailoutbox):
    return mailoutbox


def test_sign_up_sends_verification_email_and_only_a_verified_member_signs_in(
    client, tasks, outbox
):
    response = client.post(
        reverse("account_signup"),
        {"email": "New.Reader@Example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "new.reader@example.org"
    assert not is_signed_in(client)

    (verification,) = emails_to("new.reader@example.org")
    assert "Confirm" in verification.subject

    # Before confirming, a password sign-in is held back and re-sends nothing new yet.
    client.post(reverse("account_login"), {"login": "new.reader@example.org", "password": PASSWORD})
    assert not is_signed_in(client)

    confirm_path = link_in(verification, "/accounts/confirm-email/")
    assert client.get(confirm_path).status_code == 200
    client.post(confirm_path)
    assert EmailAddress.objects.get(user=user).verified

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "NEW.READER@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert is_signed_in(client)


def test_login_by_emailed_code_signs_member_in(client, tasks, outbox):
    member = UserFactory(email="coder@example.org")

    response = client.post(reverse("account_request_login_code"), {"email": member.email})
    assert response.status_code == 302
    (message,) = emails_to(member.email)
    code = re.search(r"^\s*([A-Z0-9]{3,5}-?[A-Z0-9]{3,5})\s*$", message.body, re.MULTILINE).group(1)

    wrong = client.post(reverse("account_confirm_login_code"), {"code": "XXXXXX"})
    assert wrong.status_code == 200
    assert not is_signed_in(client)

    client.post(reverse("account_confirm_login_code"), {"code": code})
    assert is_signed_in(client)


def test_password_reset_link_sets_a_new_password(client, tasks, outbox):
    member = UserFactory(email="forgetful@example.org")

    client.post(reverse("account_reset_password"), {"email": "Forgetful@Example.org"})
    (message,) = emails_to(member.email)
    reset_path = link_in(message, "/accounts/password/reset/key/")

    form_page = client.get(reset_path, follow=True)
    set_password_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_path
    response = client.post(
        set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302

    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert not member.check_password(PASSWORD)
    client.post(reverse("account_login"), {"login": member.email, "password": NEW_PASSWORD})
    assert is_signed_in(client)


def test_sign_up_with_an_existing_email_in_other_casing_creates_no_second_account(
    client, tasks, outbox
):
    UserFactory(email="reader@example.org")

    client.post(
        reverse("account_signup"),
        {"email": "Reader@Example.ORG", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert User.objects.count() == 1
    # Without revealing that the account exists, its owner is told someone tried.
    (notice,) = emails_to("reader@example.org")
    assert "already" in notice.body.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "other", ["reader@example.org", "Reader@Example.org", "READER@EXAMPLE.ORG"]
)
def test_database_refuses_a_second_user_with_the_same_email_in_any_casing(other):
    User.objects.create_user("reader@example.org", PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(other, PASSWORD)


@pytest.mark.django_db
def test_database_refuses_an_email_that_is_not_lower_case_even_past_save():
    user = User.objects.create_user("Mixed@Example.org", PASSWORD)
    assert user.email == "mixed@example.org"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(email="Mixed@Example.org")


@pytest.mark.django_db
def test_after_five_failed_logins_even_the_right_password_is_held_back(client):
    member = UserFactory()
    login = reverse("account_login")
    for _ in range(5):
        client.post(login, {"login": member.email, "password": "wrong"})

    response = client.post(login, {"login": member.email, "password": PASSWORD})

    assert "Too many failed login attempts" in response.content.decode()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_login_attempts_from_one_address_are_throttled_with_429(client):
    statuses = {
        client.post(
            reverse("account_login"), {"login": f"guess{n}@example.org", "password": "x"}
        ).status_code
        for n in range(31)
    }
    assert statuses == {200, 429}


@pytest.mark.django_db
def test_account_page_asks_a_guest_to_sign_in(client):
    response = client.get(reverse("members:account"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("has_password", "offered", "not_offered"),
    [
        (True, "account_change_password", "account_set_password"),
        (False, "account_set_password", "account_change_password"),
    ],
)
def test_the_account_page_offers_to_set_a_password_only_to_a_member_without_one(
    client, has_password, offered, not_offered
):
    member = UserFactory()
    if not has_password:  # joined by card, signs in by emailed code
        member.set_unusable_password()
        member.save()
    client.force_login(member)

    html = client.get(reverse("members:account")).content.decode()

    assert f'href="{reverse(offered)}"' in html
    assert f'href="{reverse(not_offered)}"' not in html


@pytest.mark.django_db
def test_member_saves_their_name_and_it_is_shown_escaped(client):
    member = UserFactory()
    client.force_login(member)

    response = client.post(
        reverse("members:account"), {"display_name": 'Tom & "Jerry" O\'Neil'}, follow=True
    )

    member.refresh_from_db()
    assert member.display_name == 'Tom & "Jerry" O\'Neil'
    assert b"Tom &amp; &quot;Jerry&quot; O&#x27;Neil" in response.content


@pytest.mark.django_db
def test_a_name_with_markup_is_refused_and_the_old_one_kept(client):
    member = UserFactory(display_name="Kept")
    client.force_login(member)

    response = client.post(
        reverse("members:account"), {"display_name": "<script>alert(1)</script>"}, follow=True
    )

    member.refresh_from_db()
    assert member.display_name == "Kept"
    assert b"<script>alert(1)</script>" not in response.content
    assert b"ordinary punctuation" in response.content


@pytest.mark.django_db
def test_too_long_name_is_refused_with_a_form_error(client):
    member = UserFactory(display_name="Kept")
    client.force_login(member)

    response = client.post(reverse("members:account"), {"display_name": "x" * 151})

    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    member.refresh_from_db()
    assert member.display_name == "Kept"


@pytest.mark.django_db
def test_staff_reach_the_admin_through_the_site_sign_in(client):
    staff = UserFactory(is_staff=True, is_superuser=True)

    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))

    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_signed_in_reader_who_is_not_staff_is_refused_the_admin(client):
    client.force_login(UserFactory())
    assert client.get(reverse("admin:login")).status_code == 403
