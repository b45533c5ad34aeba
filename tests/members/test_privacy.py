"""Data protection: a person downloads everything held about them, and can have it erased.

Erasure takes away who someone is and keeps the ledger whole (amounts, currencies,
dates, kinds, Stripe ids, receipt numbers), ends what still runs at Stripe, deletes
the Stripe Customer, and is safe to run twice. Staff do the same from admin for a
request that came by email, with a permission of their own.
"""

import json

import pytest
import requests
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.db.models import Count, Sum
from django.test import Client
from django.urls import reverse

from members import privacy
from members.models import GiftMembership, Membership, User
from members.states import GiftStatus, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Donation, Donor, Payment, Receipt, Refund, StripeEvent
from payments.states import DonationStatus, EventStatus, PaymentKind, RefundStatus
from tests.factories import (
    PASSWORD,
    DonationFactory,
    DonorFactory,
    GiftMembershipFactory,
    MembershipFactory,
    PaymentFactory,
    ReceiptFactory,
    StripeEventFactory,
    UserFactory,
)
from tests.members.memberships import _stripe, join, refreshed
from tests.payments.donations import give
from tests.support.admin import staff
from tests.support.processes import wait_until

EXPORT = reverse("members:data_export")
ERASE = reverse("members:data_erase")


def history(email: str, name: str, *, user: User | None = None) -> Donor:
    """A person's giving: a refunded one-time payment with its receipt, a gift started
    and never paid, a gift membership given (sent) and one still to be sent."""
    donor = DonorFactory(email=email, name=name, user=user)
    payment = PaymentFactory(
        donor=donor, donor_name=name, amount=2500, currency="EUR", amount_refunded=500
    )
    ReceiptFactory(payment=payment)
    Refund.objects.create(
        payment=payment,
        stripe_refund_id=f"re_{donor.pk}",
        amount=500,
        currency="EUR",
        status=RefundStatus.SUCCEEDED,
        reason="requested_by_customer",
    )
    DonationFactory(
        donor=donor, name=name, status=DonationStatus.FAILED, amount=900, currency="USD"
    )
    GiftMembershipFactory(
        donation__donor=donor,
        giver_name=name,
        recipient_email=f"sent-to.{donor.pk}@example.net",
        message="Read this, it is good",
    )
    GiftMembershipFactory(
        donation__donor=donor,
        giver_name=name,
        recipient_email=f"later-to.{donor.pk}@example.net",
        message="For your birthday",
        status=GiftStatus.PAID,
        sent_at=None,
    )
    return donor


def member(email: str, name: str) -> User:
    """A member with an account, a comp membership, giving history and a gift received."""
    user = UserFactory(email=email, display_name=name)
    history(email, name, user=user)
    MembershipFactory(
        user=user,
        note=f"Hardship grant for {name}",
        card_brand="visa",
        card_last4="4242",
        card_payment_method_id="pm_ana",
    )
    GiftMembershipFactory(recipient_email=email, recipient_name=name, message=f"For {name}")
    return user


def ledger() -> dict:
    """What the accounts hold: per currency, rows, charged and refunded; receipts by number."""
    totals = {
        row["currency"]: (row["rows"], row["charged"], row["refunded"])
        for row in Payment.objects.values("currency").annotate(
            rows=Count("pk"), charged=Sum("amount"), refunded=Sum("amount_refunded")
        )
    }
    receipts = dict(Receipt.objects.values_list("number", "payment__amount"))
    refunds = list(Refund.objects.order_by("pk").values_list("amount", "currency", "status"))
    ids = list(
        Payment.objects.order_by("pk").values_list(
            "kind", "paid_at", "stripe_payment_intent_id", "stripe_charge_id", "stripe_invoice_id"
        )
    )
    return {"totals": totals, "receipts": receipts, "refunds": refunds, "ids": ids}


def download(client: Client) -> tuple[dict, str]:
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    return json.loads(text), text


def emails_to(mailoutbox, address: str, word: str) -> list:
    return [m for m in mailoutbox if address in m.to and word in m.subject.lower()]


# --- Export ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_out_reader_is_sent_to_sign_in_to_export_or_erase(client):
    for url in (EXPORT, ERASE):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_the_export_holds_the_persons_account_giving_memberships_and_gifts(client):
    ana = member("ana@example.org", "Ana Lima")
    EmailAddress.objects.create(user=ana, email="ana.work@example.org", verified=True)
    history("ana.work@example.org", "Ana L.")  # a guest gift from a verified address of hers
    client.force_login(ana)

    data, _ = download(client)

    assert data["account"]["email"] == "ana@example.org"
    assert data["account"]["display_name"] == "Ana Lima"
    assert {a["email"] for a in data["sign_in_email_addresses"]} == {
        "ana@example.org",
        "ana.work@example.org",
    }
    assert {d["email"] for d in data["donor_records"]} == {
        "ana@example.org",
        "ana.work@example.org",
    }
    payment = next(p for p in data["payments"] if p["receipt"]["email"] == "ana@example.org")
    assert (payment["amount"], payment["currency"], payment["amount_refunded"]) == (
        2500,
        "EUR",
        500,
    )
    assert (payment["name"], payment["receipt"]["email"]) == ("Ana Lima", "ana@example.org")
    assert payment["refunds"][0]["amount"] == 500
    assert {(g["amount"], g["currency"], g["status"]) for g in data["gifts_started"]} >= {
        (900, "USD", DonationStatus.FAILED)
    }
    assert [m["kind"] for m in data["memberships"]] == ["comp"]
    assert data["memberships"][0]["note"] == "Hardship grant for Ana Lima"
    assert data["memberships"][0]["card"] == "Visa ending 4242"
    given = {g["recipient_email"] for g in data["gift_memberships_given"]}
    assert len(given) == 4  # two from each of her addresses
    (received,) = data["gift_memberships_received"]
    assert received["message"] == "For Ana Lima"


@pytest.mark.django_db
def test_the_export_never_holds_another_persons_data(client):
    ana = member("ana@example.org", "Ana Lima")
    bob = member("bob@example.org", "Bob Stone")
    bobs_receipt = Receipt.objects.get(payment__donor__email="bob@example.org").number
    giver = GiftMembership.objects.get(recipient_email="ana@example.org").donation.donor
    client.force_login(ana)

    _, text = download(client)

    for theirs in ("bob@example.org", "Bob Stone", bobs_receipt, giver.email):
        assert theirs not in text
    client.force_login(bob)
    _, text = download(client)
    assert "ana@example.org" not in text and "Ana Lima" not in text


@pytest.mark.django_db
def test_an_address_added_to_an_account_but_never_proved_brings_none_of_its_records(client):
    ana = member("ana@example.org", "Ana Lima")
    member("bob@example.org", "Bob Stone")
    bobs_receipt = Receipt.objects.get(payment__donor__email="bob@example.org").number
    EmailAddress.objects.create(user=ana, email="bob@example.org", verified=False)
    client.force_login(ana)

    data, text = download(client)

    assert [d["email"] for d in data["donor_records"]] == ["ana@example.org"]
    assert "Bob Stone" not in text and bobs_receipt not in text
    assert data["gift_memberships_received"][0]["message"] == "For Ana Lima"
    assert len(data["gift_memberships_received"]) == 1


# --- Erasure by the person --------------------------------------------------------------


@pytest.mark.django_db
def test_erasure_asks_for_the_accounts_own_address_over_a_csrf_protected_post():
    ana = member("ana@example.org", "Ana Lima")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ana)

    page = browser.get(ERASE)
    assert page.status_code == 200
    assert "What we keep, and why" in page.content.decode()
    assert browser.post(ERASE, {"email": "ana@example.org"}).status_code == 403  # no token

    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    wrong = browser.post(ERASE, {"email": "bob@example.org", "csrfmiddlewaretoken": token})

    assert wrong.status_code == 200
    assert "not the address of the account" in wrong.content.decode()
    ana.refresh_from_db()
    assert ana.is_active and ana.email == "ana@example.org"
    assert Donor.objects.filter(email="ana@example.org").exists()


@pytest.mark.django_db
def test_erasure_pseudonymises_the_person_everywhere_and_keeps_the_ledger_whole(client):
    ana = member("ana@example.org", "Ana Lima")
    bob = member("bob@example.org", "Bob Stone")
    before = ledger()
    donor = Donor.objects.get(email="ana@example.org")
    receipt_number = Receipt.objects.get(payment__donor=donor).number
    received = GiftMembership.objects.get(recipient_email="ana@example.org")
    client.force_login(ana)

    response = client.post(ERASE, {"email": "Ana@Example.org"})

    assert response.status_code == 200
    assert "Your data is erased" in response.content.decode()
    assert ledger() == before
    ana.refresh_from_db()
    assert ana.email == f"erased-user-{ana.pk}@invalid"
    assert (ana.display_name, ana.is_active, ana.has_usable_password()) == ("", False, False)
    assert not EmailAddress.objects.filter(user=ana).exists()
    assert not Client().login(email="ana@example.org", password=PASSWORD)
    donor.refresh_from_db()
    assert (donor.email, donor.name) == (f"erased-{donor.pk}@invalid", "")
    receipt = Receipt.objects.get(payment__donor=donor)
    assert (receipt.number, receipt.email) == (receipt_number, f"erased-{donor.pk}@invalid")
    assert Donation.objects.filter(donor=donor).count() == 3  # kept, and say nobody's name
    assert set(Donation.objects.filter(donor=donor).values_list("name", flat=True)) == {""}
    assert set(Payment.objects.filter(donor=donor).values_list("donor_name", flat=True)) == {""}
    membership = Membership.objects.get(user=ana)
    assert membership.status == MembershipStatus.CANCELED
    assert (membership.email, membership.note) == (f"erased-membership-{membership.pk}@invalid", "")
    assert (membership.card_brand, membership.card_last4, membership.card_payment_method_id) == (
        "",
        "",
        "",
    )
    sent, later = GiftMembership.objects.filter(donation__donor=donor).order_by("pk")
    assert (sent.giver_name, sent.message, sent.recipient_name) == ("", "", "")
    assert sent.recipient_email == f"erased-gift-{sent.pk}@invalid"
    # A paid gift not yet delivered still reaches its recipient, without Ana's words.
    assert (later.giver_name, later.message) == ("", "")
    assert later.recipient_email == f"later-to.{donor.pk}@example.net"
    received.refresh_from_db()
    assert received.recipient_email == f"erased-gift-{received.pk}@invalid"
    assert (received.recipient_name, received.message) == ("", "")
    assert received.giver_name  # the giver's, not Ana's
    # Bob is untouched.
    bob.refresh_from_db()
    assert bob.is_active and Donor.objects.get(user=bob).email == "bob@example.org"
    assert GiftMembership.objects.filter(recipient_email="bob@example.org").exists()
    # Ana is signed out.
    assert client.get(reverse("members:account")).status_code == 302


@pytest.mark.django_db
def test_erasure_blanks_the_persons_details_in_the_raw_stripe_events_about_them(localstripe):
    ana = member("ana@example.org", "Ana Lima")
    customer = gateway.create_customer(
        email="ana@example.org", name="Ana Lima", idempotency_key=f"test-events-{ana.pk}"
    )
    Donor.objects.filter(user=ana).update(stripe_customer_id=customer)
    charge = {
        "id": "ch_ana",
        "object": "charge",
        "customer": customer,
        "amount": 2500,
        "billing_details": {"email": "ana@example.org", "name": "Ana Lima", "phone": None},
        "payment_method_details": {"card": {"last4": "4242", "brand": "visa"}},
        "description": "Gift from ana@example.org",
    }
    about_her = StripeEventFactory(payload={"id": "evt_ana", "data": {"object": charge}})
    pending = StripeEventFactory(
        status=EventStatus.PENDING, payload={"id": "evt_pending", "data": {"object": charge}}
    )
    theirs = {**charge, "customer": "cus_other", "billing_details": {}, "description": "Gift"}
    someone_else = StripeEventFactory(payload={"data": {"object": theirs}})

    done = privacy.erase_person(privacy.person_of_user(ana))

    assert done.stripe_customers_deleted == 1
    about_her.refresh_from_db()
    text = json.dumps(about_her.payload)
    assert "ana@example.org" not in text and "Ana Lima" not in text and "4242" not in text
    kept = about_her.data_object
    assert (kept["id"], kept["customer"], kept["amount"]) == ("ch_ana", customer, 2500)
    assert kept["description"] == "Gift from [erased]"
    pending.refresh_from_db()  # still to write the ledger: retention deletes it later
    assert pending.payload["data"]["object"]["billing_details"]["email"] == "ana@example.org"
    someone_else.refresh_from_db()
    assert someone_else.data_object["payment_method_details"]["card"]["last4"] == "4242"


def test_erasing_twice_changes_nothing_and_sends_one_confirmation(tasks, mailoutbox):
    ana = member("ana@example.org", "Ana Lima")

    first = privacy.erase_person(privacy.person_of_user(ana))
    ana.refresh_from_db()
    snapshot = (
        list(Donor.objects.values()),
        list(Membership.objects.values()),
        list(GiftMembership.objects.values()),
        list(Receipt.objects.values("email", "number")),
    )
    second = privacy.erase_person(privacy.person_of_user(ana))

    assert first == privacy.Erasure(memberships_ended=1, stripe_customers_deleted=0, confirmed=True)
    assert second == privacy.Erasure(
        memberships_ended=0, stripe_customers_deleted=0, confirmed=False
    )
    assert snapshot == (
        list(Donor.objects.values()),
        list(Membership.objects.values()),
        list(GiftMembership.objects.values()),
        list(Receipt.objects.values("email", "number")),
    )
    (confirmation,) = wait_until(lambda: emails_to(mailoutbox, "ana@example.org", "erased"))
    assert "the law requires us to keep our accounts" in confirmation.body
    assert len(mailoutbox) == 1  # no "membership ended", no second confirmation


def test_erasing_a_paying_member_cancels_at_stripe_deletes_the_customer_and_keeps_the_ledger(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="leaving@example.org", display_name="Leaving Reader")
    client.force_login(user)
    membership = join(client, amount="10", currency="USD")
    give(client, email="leaving@example.org", name="Leaving Reader", amount="25")
    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    wait_until(lambda: len(emails_to(mailoutbox, "leaving@example.org", "receipt")) == 2)
    wait_until(
        lambda: (
            not StripeEvent.objects.filter(
                status__in=[EventStatus.PENDING, EventStatus.FAILED]
            ).exists()
        )
    )
    handled_before = list(StripeEvent.objects.values_list("pk", flat=True))
    customer = membership.donor.stripe_customer_id
    subscription = membership.stripe_subscription_id
    before = ledger()
    assert before["totals"] == {"USD": (1, 1000, 0), "EUR": (1, 2500, 0)}

    response = client.post(ERASE, {"email": "leaving@example.org"})

    assert response.status_code == 200, response.content
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELED
    assert _stripe("GET", f"subscriptions/{subscription}").get("status") in (None, "canceled")
    gone = requests.get(
        f"{settings.STRIPE_API_BASE}/v1/customers/{customer}",
        auth=(settings.STRIPE_SECRET_KEY, ""),
        timeout=10,
    )
    assert gone.status_code == 404 or gone.json().get("deleted") is True
    assert ledger() == before
    donor = Donor.objects.get(pk=membership.donor_id)
    assert (donor.email, donor.name) == (f"erased-{donor.pk}@invalid", "")
    assert set(Receipt.objects.values_list("email", flat=True)) == {donor.email}
    assert set(Payment.objects.values_list("donor_name", flat=True)) == {""}
    for event in StripeEvent.objects.filter(pk__in=handled_before):
        assert "leaving@example.org" not in json.dumps(event.payload)
    (confirmation,) = wait_until(lambda: emails_to(mailoutbox, "leaving@example.org", "erased"))
    assert "membership has ended" in confirmation.body
    assert not emails_to(mailoutbox, "leaving@example.org", "has ended")

    user.refresh_from_db()
    again = privacy.erase_person(privacy.person_of_user(user))

    assert again == privacy.Erasure(
        memberships_ended=0, stripe_customers_deleted=0, confirmed=False
    )
    assert ledger() == before


def test_deleting_a_stripe_customer_again_is_success(localstripe):
    customer = gateway.create_customer(
        email="gone@example.org", name="", idempotency_key="test-privacy-gone"
    )

    gateway.delete_customer(customer, idempotency_key=f"erase-{customer}")
    gateway.delete_customer(customer, idempotency_key=f"erase-{customer}")  # Stripe: 404

    response = requests.get(
        f"{localstripe}/v1/customers/{customer}",
        auth=(settings.STRIPE_SECRET_KEY, ""),
        timeout=10,
    )
    assert response.status_code == 404


# --- Staff, for a request that came by email ---------------------------------------------

VIEW = ["members.view_user", "payments.view_donor"]
BOTH = ["members.export_personal_data", "members.erase_personal_data"]


def action(browser: Client, changelist: str, name: str, obj, **extra):
    """Post the action as the changelist's form would (and follow a redirect)."""
    return browser.post(
        reverse(changelist),
        {"action": name, "_selected_action": [obj.pk], **extra},
        follow=True,
    )


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def offered(browser: Client, changelist: str) -> set[str]:
    form = browser.get(reverse(changelist)).context["action_form"]
    if form is None:
        return set()
    return {value for value, _ in form.fields["action"].choices if value}


@pytest.mark.django_db
def test_staff_with_the_permission_export_an_accounts_data_from_admin():
    ana = member("ana@example.org", "Ana Lima")
    member("bob@example.org", "Bob Stone")
    browser = staff(*VIEW, "members.export_personal_data")

    response = action(browser, "admin:members_user_changelist", "export_personal_data", ana)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["account"]["email"] == "ana@example.org"
    assert "bob@example.org" not in response.content.decode()


@pytest.mark.django_db
def test_staff_export_a_guest_donors_data_from_the_donor_list():
    guest = history("guest@example.org", "Gus Guest")
    browser = staff(*VIEW, "members.export_personal_data")

    response = action(browser, "admin:payments_donor_changelist", "export_personal_data", guest)

    data = json.loads(response.content)
    assert data["account"] is None
    assert [d["email"] for d in data["donor_records"]] == ["guest@example.org"]
    assert data["payments"][0]["receipt"]["email"] == "guest@example.org"
    assert len(data["gift_memberships_given"]) == 2


def test_staff_erase_a_guest_donor_after_confirming(tasks, mailoutbox):
    guest = history("guest@example.org", "Gus Guest")
    before = ledger()
    browser = staff(*VIEW, *BOTH)
    changelist = "admin:payments_donor_changelist"

    asked = action(browser, changelist, "erase_personal_data", guest)

    assert asked.status_code == 200
    assert "This cannot be undone" in asked.content.decode()
    assert Donor.objects.get(pk=guest.pk).email == "guest@example.org"  # not yet

    done = action(browser, changelist, "erase_personal_data", guest, confirmed="yes")

    assert any("guest@example.org: erased" in line for line in said(done))
    guest.refresh_from_db()
    assert (guest.email, guest.name) == (f"erased-{guest.pk}@invalid", "")
    assert ledger() == before
    (confirmation,) = wait_until(lambda: emails_to(mailoutbox, "guest@example.org", "erased"))
    assert "Your account is closed" not in confirmation.body  # a guest had none

    again = action(browser, changelist, "erase_personal_data", guest, confirmed="yes")
    assert any("already erased" in line for line in said(again))


@pytest.mark.django_db
def test_staff_erase_an_account_from_admin_and_its_history_names_nobody():
    ana = member("ana@example.org", "Ana Lima")
    browser = staff(*VIEW, *BOTH)
    changelist = "admin:members_user_changelist"
    action(browser, changelist, "export_personal_data", ana)  # logged, naming her

    done = action(browser, changelist, "erase_personal_data", ana, confirmed="yes")

    assert any("ana@example.org: erased" in line for line in said(done))
    ana.refresh_from_db()
    assert ana.email == f"erased-user-{ana.pk}@invalid" and not ana.is_active
    assert not Donor.objects.filter(email="ana@example.org").exists()
    history = LogEntry.objects.filter(object_id=str(ana.pk), content_type__model="user")
    assert [entry.change_message for entry in history.order_by("pk")] == [
        "Exported their personal data (data protection request).",
        "Erased their personal data (data protection request).",
    ]
    assert not LogEntry.objects.filter(object_repr__icontains="ana@example.org").exists()


@pytest.mark.django_db
def test_view_only_staff_can_neither_export_nor_erase():
    ana = member("ana@example.org", "Ana Lima")
    guest = history("guest@example.org", "Gus Guest")
    browser = staff(*VIEW)

    assert offered(browser, "admin:members_user_changelist") == set()
    assert offered(browser, "admin:payments_donor_changelist") == set()
    for changelist, obj in (
        ("admin:members_user_changelist", ana),
        ("admin:payments_donor_changelist", guest),
    ):
        exported = action(browser, changelist, "export_personal_data", obj)
        erased = action(browser, changelist, "erase_personal_data", obj, confirmed="yes")
        assert "application/json" not in exported["Content-Type"]
        assert not [line for line in said(erased) if "erased" in line]  # never tried

    ana.refresh_from_db()
    assert ana.is_active and ana.email == "ana@example.org"
    assert Donor.objects.get(pk=guest.pk).email == "guest@example.org"


@pytest.mark.django_db
def test_staff_with_the_permission_are_offered_both_actions_on_accounts_and_donors():
    browser = staff(*VIEW, *BOTH)

    expected = {"export_personal_data", "erase_personal_data"}
    assert offered(browser, "admin:members_user_changelist") == expected
    assert offered(browser, "admin:payments_donor_changelist") == expected


@pytest.mark.django_db
def test_only_a_superuser_may_erase_a_superusers_account():
    boss = UserFactory(is_staff=True, is_superuser=True)
    browser = staff(*VIEW, *BOTH)

    done = action(
        browser, "admin:members_user_changelist", "erase_personal_data", boss, confirmed="yes"
    )

    assert any("only a superuser" in line for line in said(done))
    boss.refresh_from_db()
    assert boss.is_active and not boss.email.endswith("@invalid")


@pytest.mark.django_db
def test_no_email_goes_to_an_erased_address(mailoutbox):
    from payments.emails import send_receipt

    donor = DonorFactory(email="erased-7@invalid", name="")
    payment = PaymentFactory(donor=donor, kind=PaymentKind.ONE_TIME)
    ReceiptFactory(payment=payment, email=donor.email, sent_at=None, times_sent=0)

    send_receipt(payment.pk)

    assert mailoutbox == []
