"""The reader's words: greetings, the cancellation email, thank-you pages that lead back to
the article and offer monthly giving, receipts' tax line per level, the donor's name in
their account, the account page's words, and allauth's pages and emails in our voice."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from members import emails as member_emails
from members import tasks as member_tasks
from members.models import User
from members.states import Interval, MembershipKind
from payments import emails as payment_emails
from payments.models import Payment
from payments.states import DonationStatus, PaymentKind
from tests.factories import (
    PASSWORD,
    ArticleFactory,
    DonationFactory,
    DonorFactory,
    GiftMembershipFactory,
    MembershipFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    PaymentFactory,
    ReceiptFactory,
    UserFactory,
)
from tests.members.memberships import join
from tests.support.processes import wait_until

DEFAULT_TAX_NOTE = "No goods or services were provided in exchange for this contribution."


def sent_to(mailoutbox, address: str, word: str) -> list:
    return [m for m in mailoutbox if address in m.to and word in m.subject.lower()]


# --- Greetings --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_email_greets_a_member_with_no_name_with_hello_never_their_address(mailoutbox):
    membership = MembershipFactory(
        user=UserFactory(email="member.one@example.org", display_name="")
    )

    member_emails.send_membership_email(membership.pk, "welcome")

    (message,) = mailoutbox
    assert message.body.startswith("Hello,\n")
    assert "member.one," not in message.body and "Dear" not in message.body
    html = message.alternatives[0][0]
    assert '<h1 style="font-size: 22px;">Welcome!</h1>' in html
    assert "member.one" not in html.replace(membership.email, "")


@pytest.mark.django_db
def test_an_email_greets_a_member_by_the_name_they_gave(mailoutbox):
    membership = MembershipFactory(user=UserFactory(display_name="Ana Lima"))

    member_emails.send_membership_email(membership.pk, "ended")

    (message,) = mailoutbox
    assert message.body.startswith("Hello Ana Lima,\n")
    assert "<p>Hello Ana Lima,</p>" in message.alternatives[0][0]


@pytest.mark.django_db
def test_a_short_name_is_the_given_name_or_nothing():
    assert UserFactory(email="member.one@example.org", display_name="").get_short_name() == ""
    assert UserFactory(display_name=" Ana ").get_short_name() == "Ana"


@pytest.mark.django_db
def test_a_receipt_to_a_nameless_donor_says_hello(mailoutbox):
    payment = PaymentFactory(donor__email="guest.giver@example.org", donor_name="")
    ReceiptFactory(payment=payment, sent_at=None, times_sent=0)

    payment_emails.send_receipt(payment.pk)

    (receipt,) = mailoutbox
    assert receipt.body.startswith("Hello,\n")
    assert "guest.giver," not in receipt.body


# --- The cancellation email -------------------------------------------------------------


@pytest.mark.django_db
def test_the_cancellation_email_says_when_perks_end_and_how_to_keep_the_membership(mailoutbox):
    ends = timezone.now() + timedelta(days=12)
    membership = PaidMembershipFactory(
        user=UserFactory(display_name="Sam"), cancel_at_period_end=True, current_period_end=ends
    )

    assert member_tasks.send_cancel_notice(membership.pk) is True

    (message,) = sent_to(mailoutbox, membership.email, "will not renew")
    assert message.body.startswith("Hello Sam,\n")
    assert f"until {timezone.localtime(ends):%-d %B %Y}" in message.body
    assert "Keep my membership" in message.body
    assert reverse("members:account") in message.body


@pytest.mark.django_db
def test_the_cancellation_task_run_twice_sends_one_email(mailoutbox):
    membership = PaidMembershipFactory(cancel_at_period_end=True)

    results = [member_tasks.send_cancel_notice(membership.pk) for _ in range(2)]

    assert results == [True, False]
    assert len(sent_to(mailoutbox, membership.email, "will not renew")) == 1
    membership.refresh_from_db()
    assert membership.cancel_notice_at is not None


@pytest.mark.django_db
def test_a_member_who_resumed_before_the_email_went_gets_none(mailoutbox):
    membership = PaidMembershipFactory(cancel_at_period_end=False)

    assert member_tasks.send_cancel_notice(membership.pk) is False
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_failed_send_frees_the_cancellation_email_for_the_retry(mailoutbox, monkeypatch):
    membership = PaidMembershipFactory(cancel_at_period_end=True)

    def mail_server_down(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(member_emails, "send_templated", mail_server_down)
    with pytest.raises(OSError):
        member_emails.send_cancel_notice(membership.pk)
    monkeypatch.undo()
    membership.refresh_from_db()
    assert membership.cancel_notice_at is None

    assert member_emails.send_cancel_notice(membership.pk) is True
    assert len(mailoutbox) == 1


def test_cancelling_twice_sends_one_email_and_a_cancellation_after_resuming_another(
    client, tasks, stripe_webhooks, mailoutbox
):
    client.force_login(UserFactory(email="leaver@example.org"))
    membership = join(client)
    cancel, resume = reverse("members:membership_cancel"), reverse("members:membership_resume")

    client.post(cancel, {"category": "reading_less"})
    client.post(cancel, {"category": "reading_less"})

    (notice,) = wait_until(lambda: sent_to(mailoutbox, "leaver@example.org", "will not renew"))
    membership.refresh_from_db()
    assert f"{timezone.localtime(membership.current_period_end):%-d %B %Y}" in notice.body
    client.post(resume)
    membership.refresh_from_db()
    assert membership.cancel_notice_at is None
    client.post(cancel, {"category": "other"})
    wait_until(lambda: len(sent_to(mailoutbox, "leaver@example.org", "will not renew")) == 2)
    assert len(sent_to(mailoutbox, "leaver@example.org", "will not renew")) == 2


# --- Thank-you pages ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_thank_you_page_leads_back_to_the_article_and_offers_monthly(client):
    article = ArticleFactory(slug="river-report", title="The river report")
    donation = DonationFactory(
        amount=1500,
        fee_cover=74,
        currency="EUR",
        status=DonationStatus.SUCCEEDED,
        article_slug=article.slug,
        campaign="spring",
    )

    page = client.get(reverse("payments:give_thanks", args=[donation.public_id])).content.decode()

    assert f'href="{article.url}"' in page
    assert "Back to “The river report”" in page
    assert "Make it monthly?" in page
    assert "Give €15 a month" in page  # as the join page's button will say it
    offer = re.search(r'href="(/join/\?[^"]*)"', page)
    assert offer, page
    link = offer.group(1).replace("&amp;", "&")
    for part in ("interval=month", "currency=EUR", "amount=15.00", "from=river-report"):
        assert part in link
    assert "campaign=spring" in link


@pytest.mark.django_db
def test_an_unpaid_gift_is_not_offered_as_monthly(client):
    donation = DonationFactory(status=DonationStatus.FAILED)

    page = client.get(reverse("payments:give_thanks", args=[donation.public_id])).content.decode()

    assert "Make it monthly?" not in page


@pytest.mark.django_db
def test_a_gift_membership_thanks_page_offers_no_monthly_and_goes_back_to_the_newsroom(
    client, settings
):
    settings.ORGANIZATION_WEBSITE = "https://news.example.org"
    gift = GiftMembershipFactory(donation__article_slug="")

    page = client.get(reverse("gifts:thanks", args=[gift.public_id])).content.decode()

    assert "Make it monthly?" not in page
    assert '<a href="https://news.example.org">Back to the news</a>' in page


@pytest.mark.django_db
def test_the_welcome_page_leads_back_to_the_article_or_home(client, settings):
    settings.ORGANIZATION_WEBSITE = ""
    article = ArticleFactory(title="Budget files")
    user = UserFactory()
    client.force_login(user)
    from_article = PaidMembershipFactory(user=user, article_slug=article.slug)

    page = client.get(reverse("members:join_welcome", args=[from_article.public_id]))

    assert f'href="{article.url}"' in page.content.decode()
    from_nowhere = PaidMembershipFactory(user=UserFactory(), article_slug="")
    client.force_login(from_nowhere.user)
    page = client.get(reverse("members:join_welcome", args=[from_nowhere.public_id]))
    assert f'<a href="{reverse("home")}">Back to the news</a>' in page.content.decode()


# --- Receipts' tax line -------------------------------------------------------------------


def membership_payment(level) -> Payment:
    membership = PaidMembershipFactory(level=level, interval=Interval.MONTH)
    payment = PaymentFactory(
        kind=PaymentKind.MEMBERSHIP, donor=membership.donor, donor_name="", amount=500
    )
    ReceiptFactory(payment=payment, sent_at=None, times_sent=0)
    return payment


@pytest.mark.django_db
def test_a_membership_receipt_says_the_levels_own_tax_line(mailoutbox, client):
    level = MembershipLevelFactory(
        name="Insider", receipt_tax_note="The tote bag's fair market value is $15."
    )
    payment = membership_payment(level)

    payment_emails.send_receipt(payment.pk)

    (receipt,) = mailoutbox
    assert "The tote bag's fair market value is $15." in receipt.body
    assert DEFAULT_TAX_NOTE not in receipt.body
    assert "For: Monthly membership (Insider)" in receipt.body
    assert "fair market value" in receipt.alternatives[0][0]
    client.force_login(payment.donor.user)
    page = client.get(reverse("members:receipt", args=[payment.receipt.number])).content.decode()
    assert "fair market value is $15." in page and "Monthly membership (Insider)" in page


@pytest.mark.django_db
def test_a_level_without_its_own_line_and_a_one_time_gift_use_the_setting(mailoutbox, settings):
    settings.ORGANIZATION_TAX_NOTE = "Gifts to us are not tax-deductible."
    membership = membership_payment(MembershipLevelFactory(receipt_tax_note=""))
    one_time = PaymentFactory(kind=PaymentKind.ONE_TIME)
    ReceiptFactory(payment=one_time, sent_at=None, times_sent=0)

    payment_emails.send_receipt(membership.pk)
    payment_emails.send_receipt(one_time.pk)

    assert len(mailoutbox) == 2
    for receipt in mailoutbox:
        assert "Gifts to us are not tax-deductible." in receipt.body
    assert "For: One-time gift" in mailoutbox[1].body


# --- The donor's name follows them ----------------------------------------------------------


def confirm(user: User) -> None:
    address = EmailAddress.objects.get(user=user, email=user.email)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)


@pytest.mark.django_db
def test_a_guest_donors_name_becomes_their_new_accounts_name():
    donor = DonorFactory(email="olena@example.org", name="Olena Koval", user=None)
    user = UserFactory(email="olena@example.org", display_name="")

    confirm(user)

    user.refresh_from_db()
    donor.refresh_from_db()
    assert donor.user == user
    assert user.display_name == "Olena Koval"


@pytest.mark.django_db
def test_a_name_the_account_has_is_kept():
    DonorFactory(email="ben@example.org", name="B. Okafor", user=None)
    user = UserFactory(email="ben@example.org", display_name="Ben Okafor")

    confirm(user)

    user.refresh_from_db()
    assert user.display_name == "Ben Okafor"


# --- The account page's words ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_account_page_names_memberships_in_words(client):
    user = UserFactory()
    paid = PaidMembershipFactory(user=user, interval=Interval.YEAR)
    MembershipFactory(user=user, kind=MembershipKind.COMP)
    gift = GiftMembershipFactory(giver_name="Jo Giver")
    gift.membership = MembershipFactory(user=user, kind=MembershipKind.GIFT, note="")
    gift.save()
    ReceiptFactory(payment=PaymentFactory(donor=paid.donor, kind=PaymentKind.ONE_TIME))
    client.force_login(user)

    page = client.get(reverse("members:account")).content.decode()

    assert "Yearly membership" in page
    assert "Complimentary membership" in page
    assert "Gift membership from Jo Giver" in page
    assert "One-time gift" in page
    assert "Kind" not in page and ">Paid<" not in page


# --- allauth in our voice ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sign_up_and_sign_in_pages_say_our_words(client, settings):
    signup = client.get(reverse("account_signup")).content.decode()
    login = client.get(reverse("account_login")).content.decode()

    assert "Create your account" in signup and settings.ORGANIZATION_NAME in signup
    assert "Sign Up" not in signup and "Signup" not in signup
    assert "<label" in signup  # labelled fields, not placeholders alone
    assert "Sign in" in login and "Email me a sign-in code" in login
    assert "Sign In" not in login


@pytest.mark.django_db
def test_the_confirmation_page_asks_in_plain_words(client):
    user = UserFactory(email="ana@example.org", verified=False)
    address = EmailAddress.objects.create(user=user, email=user.email)
    from allauth.account.models import EmailConfirmationHMAC

    key = EmailConfirmationHMAC(address).key

    page = client.get(reverse("account_confirm_email", args=[key])).content.decode()

    assert "Is <strong>ana@example.org</strong> your email address?" in page
    assert "for user" not in page and "Please confirm that" not in page


@pytest.mark.django_db
def test_the_confirmation_and_code_emails_say_our_words(settings):
    request = RequestFactory().get("/")
    user = UserFactory(display_name="")
    confirmation = render_to_string(
        "account/email/email_confirmation_signup_message.txt",
        {"user": user, "activate_url": "https://site.example/accounts/confirm-email/k/"},
        request,
    )
    code = render_to_string(
        "account/email/login_code_message.txt", {"user": user, "code": "ABC-123"}, request
    )

    assert confirmation.startswith("Hello,\n")
    assert settings.ORGANIZATION_NAME in confirmation
    assert "https://site.example/accounts/confirm-email/k/" in confirmation
    assert "for user" not in confirmation and "register an account" not in confirmation
    assert "\nABC-123\n" in code and settings.ORGANIZATION_NAME in code


def test_a_new_reader_gets_our_confirmation_email(client, tasks, mailoutbox):
    client.post(
        reverse("account_signup"),
        {"email": "words@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )

    (message,) = wait_until(lambda: [m for m in mailoutbox if "words@example.org" in m.to])
    assert "Confirm your email" in message.subject
    assert message.body.startswith("Hello,\n")
    assert "Please Confirm" not in message.subject and "for user" not in message.body
