"""One person, one donor: guests' gifts join their account; members give as themselves."""

import re
from pathlib import Path

from django.urls import reverse

from payments.models import Donor, Receipt
from tests.factories import PASSWORD, UserFactory
from tests.payments.donations import give, recorded_payment
from tests.support.processes import wait_until

PROJECT = Path(__file__).resolve().parents[2]


def test_a_guest_who_later_opens_an_account_with_that_email_sees_the_earlier_gift(
    client, tasks, stripe_webhooks, mailoutbox
):
    give(client, amount="15", currency="GBP", email="Later.Member@example.org")
    payment = recorded_payment()

    client.post(
        reverse("account_signup"),
        {"email": "later.member@EXAMPLE.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    verification = wait_until(
        lambda: [
            m for m in mailoutbox if "later.member@example.org" in m.to and "Confirm" in m.subject
        ]
    )[0]
    confirm_path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", verification.body)[1]
    client.post(confirm_path)

    account = client.get(reverse("members:account")).content.decode()
    assert "£15.00" in account
    assert payment.receipt.number in account
    assert Donor.objects.count() == 1


def test_a_signed_in_member_gives_as_themselves_whatever_email_is_posted(
    client, tasks, stripe_webhooks
):
    member = UserFactory(email="member@example.org")
    client.force_login(member)

    give(client, email="someone.else@example.org")

    payment = recorded_payment()
    assert payment.donor.email == "member@example.org"
    assert payment.donor.user == member
    assert not Donor.objects.filter(email="someone.else@example.org").exists()


def test_one_member_never_sees_another_members_gifts(client, tasks, stripe_webhooks):
    give(client, amount="42", currency="USD", email="first@example.org")
    recorded_payment()
    other = UserFactory(email="second@example.org")
    client.force_login(other)

    account = client.get(reverse("members:account")).content.decode()

    assert "$42.00" not in account
    assert "No gifts yet" in account


def test_only_the_gateway_module_imports_stripe():
    offenders = [
        str(path.relative_to(PROJECT))
        for app in ("config", "members", "payments", "content")
        for path in (PROJECT / app).rglob("*.py")
        if PROJECT / "payments" / "stripe_gateway" not in path.parents
        and re.search(r"^\s*(import stripe|from stripe)\b", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_a_stranger_starting_a_gift_in_a_donors_name_changes_nothing_stored(
    client, tasks, stripe_webhooks, mailoutbox
):
    from payments import emails

    give(client, amount="20", currency="EUR", email="ann@example.org", name="Ann Lee")
    payment = recorded_payment()
    stranger = client.__class__()

    started = stranger.post(
        reverse("payments:give_start"),
        {"amount": "5", "currency": "EUR", "email": "ann@example.org", "name": "Mallory"},
    )
    assert started.status_code == 200  # a guest may give in any name: it is their gift's

    assert Donor.objects.get().name == "Ann Lee"
    wait_until(lambda: Receipt.objects.filter(payment=payment, sent_at__isnull=False).exists())
    mailoutbox.clear()
    emails.send_receipt(payment.pk, resend=True)  # a past receipt, sent again
    (receipt,) = mailoutbox
    assert "Ann Lee" in receipt.body and "Mallory" not in receipt.body


def test_each_receipt_names_whom_that_payment_was_given_by(client, tasks, stripe_webhooks):
    give(client, amount="20", currency="EUR", email="pat@example.org", name="Pat")
    first = recorded_payment()
    give(client, amount="30", currency="EUR", email="pat@example.org", name="Pat and Sam")
    second = wait_until(lambda: recorded_payment(amount=3000))

    assert (first.donor_name, second.donor_name) == ("Pat", "Pat and Sam")
    assert first.donor_id == second.donor_id
    assert Donor.objects.get().name == "Pat"  # a guest's form never renames the donor


def test_a_signed_in_member_renames_their_own_donor_record(client, tasks, stripe_webhooks):
    give(client, amount="20", currency="EUR", email="kim@example.org", name="Kim")
    recorded_payment()
    client.force_login(UserFactory(email="kim@example.org"))

    give(client, amount="25", currency="EUR", name="Kim Park")

    assert Donor.objects.get().name == "Kim Park"
