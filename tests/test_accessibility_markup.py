"""The reader's pages as the server renders them, checked for what WCAG 2.2 AA asks of
their markup: a skip link first, a label for every field, aria-describedby naming ids the
page has, no id twice, and aria-invalid on fields sent back with errors (issue 13, item 5).
The browser checks (axe-core, the focus moving) come with the browser test suite."""

from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from members.forms import GiftForm
from members.states import Interval
from payments.forms import DonationForm
from payments.states import DonationStatus
from tests.factories import (
    ArticleFactory,
    DonationFactory,
    GiftMembershipFactory,
    LevelAmountFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    SuggestedAmountFactory,
    UserFactory,
)

FIELDS = {"input", "select", "textarea"}
NOT_LABELLED = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class Element:
    tag: str
    attrs: dict
    in_label: bool


@dataclass
class Markup(HTMLParser):
    """Every element's tag and attributes, and whether it sits inside a <label>."""

    elements: list[Element] = field(default_factory=list)
    labels: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag, attrs):
        self.elements.append(Element(tag, dict(attrs), self.labels > 0))
        if tag == "label":
            self.labels += 1

    def handle_endtag(self, tag):
        if tag == "label":
            self.labels -= 1

    @classmethod
    def of(cls, html: str) -> "Markup":
        markup = cls()
        markup.feed(html)
        return markup

    def ids(self) -> list[str]:
        return [e.attrs["id"] for e in self.elements if e.attrs.get("id")]

    def fields(self) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag in FIELDS and e.attrs.get("type", "text") not in NOT_LABELLED
        ]

    def focusable(self) -> list[Element]:
        def can_focus(e: Element) -> bool:
            if "disabled" in e.attrs or e.attrs.get("tabindex") == "-1":
                return False
            if e.tag == "a":
                return "href" in e.attrs
            if e.tag == "input":
                return e.attrs.get("type") != "hidden"
            return e.tag in ("button", "select", "textarea") or "tabindex" in e.attrs

        return [e for e in self.elements if can_focus(e)]


def problems(html: str) -> list[str]:
    """What a reader with a keyboard or a screen reader would miss on this page."""
    markup = Markup.of(html)
    found = []
    ids = markup.ids()
    found += [f"id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    first = markup.focusable()[0]
    if first.tag != "a" or first.attrs.get("href") != "#content":
        found.append(f"the first focusable element is {first}, not the skip link")
    if "content" not in ids:
        found.append("the skip link's target #content is missing")
    label_for = {e.attrs.get("for") for e in markup.elements if e.tag == "label"}
    for e in markup.fields():
        labelled = (
            e.in_label
            or e.attrs.get("id") in label_for
            or e.attrs.get("aria-label")
            or e.attrs.get("aria-labelledby")
        )
        if not labelled:
            found.append(f"{e.tag} {e.attrs.get('name')!r} has no label")
    for e in markup.elements:
        for ref in (e.attrs.get("aria-describedby") or "").split():
            if ref not in ids:
                found.append(f"{e.attrs.get('name') or e.tag} is described by missing #{ref}")
        for ref in (e.attrs.get("aria-labelledby") or "").split():
            if ref not in ids:
                found.append(f"{e.attrs.get('name') or e.tag} is labelled by missing #{ref}")
    return found


@pytest.fixture
def offer(db):
    """Levels and suggested amounts, as a newsroom has them."""
    supporter = MembershipLevelFactory(name="Supporter", description="The newsletter")
    insider = MembershipLevelFactory(name="Insider", description="The newsletter\nEvents")
    for level, month in ((supporter, 500), (insider, 1500)):
        for currency in ("USD", "EUR"):
            LevelAmountFactory(level=level, currency=currency, amount=month)
            LevelAmountFactory(
                level=level, currency=currency, interval=Interval.YEAR, amount=month * 10
            )
    SuggestedAmountFactory(currency="USD", amount=1000, is_default=True)
    SuggestedAmountFactory(currency="USD", amount=2500)


def signed_in(client, user=None):
    user = user or UserFactory()
    client.force_login(user)
    return user


def member(client):
    return signed_in(client, PaidMembershipFactory().user)


def gift_claim(client, *, reader=False):
    if reader:
        signed_in(client)
    gift = GiftMembershipFactory(claim_token="a11y-token")
    return reverse("gifts:claim", args=[gift.claim_token])


def give_thanks(client):
    donation = DonationFactory(status=DonationStatus.SUCCEEDED)
    return reverse("payments:give_thanks", args=[donation.public_id])


def gift_thanks(client):
    return reverse("gifts:thanks", args=[GiftMembershipFactory().public_id])


def article_page(client):
    return reverse("content:article", args=[ArticleFactory(body="<p>Text.</p>").slug])


PAGES = {
    "home": lambda client: reverse("home"),
    "article": article_page,
    "give": lambda client: reverse("payments:give"),
    "give as a member": lambda client: member(client) and reverse("payments:give"),
    "give thanks": give_thanks,
    "join, signed out": lambda client: reverse("members:join"),
    "join, signed in": lambda client: signed_in(client) and reverse("members:join"),
    "join, already a member": lambda client: member(client) and reverse("members:join"),
    "gift": lambda client: reverse("gifts:give"),
    "gift thanks": gift_thanks,
    "gift claim, signed out": gift_claim,
    "gift claim, signed in": lambda client: gift_claim(client, reader=True),
    "account": lambda client: member(client) and reverse("members:account"),
    "membership change": lambda client: member(client) and reverse("members:membership_change"),
    "card update": lambda client: member(client) and reverse("members:card"),
    "supporters": lambda client: reverse("members:supporters"),
}


@pytest.mark.parametrize("page", PAGES)
def test_every_reader_page_has_a_skip_link_labels_and_real_description_ids(client, offer, page):
    response = client.get(PAGES[page](client))

    assert response.status_code == 200
    assert problems(response.content.decode()) == []


def test_the_skip_link_leads_to_the_main_content(client, offer):
    markup = Markup.of(client.get(reverse("payments:give")).content.decode())

    main = next(e for e in markup.elements if e.tag == "main")
    assert main.attrs["id"] == "content"
    assert markup.focusable()[0].attrs == {"class": "skip-link", "href": "#content"}


def test_payment_fields_are_described_by_their_help_and_their_error_slot(client, offer):
    markup = Markup.of(client.get(reverse("payments:give")).content.decode())
    email = next(e for e in markup.elements if e.attrs.get("name") == "email")
    amount = next(e for e in markup.elements if e.attrs.get("name") == "amount")

    assert email.attrs["aria-describedby"] == "id_email_helptext id_email_error"
    assert amount.attrs["aria-describedby"] == "id_amount_error"
    slots = {e.attrs.get("id"): e for e in markup.elements if "data-error-for" in e.attrs}
    assert slots["id_email_error"].attrs["data-error-for"] == "email"
    assert "id_email_helptext" in markup.ids()
    assert "aria-invalid" not in email.attrs


def test_a_field_sent_back_with_an_error_is_invalid_and_says_why(db):
    form = DonationForm({"amount": "ten", "currency": "USD", "email": "not an email"})
    assert not form.is_valid()

    html = render_to_string(
        "partials/field.html", {"field": form["email"], "help": form["email"].help_text}
    )

    markup = Markup.of(html)
    email = next(e for e in markup.elements if e.tag == "input")
    assert email.attrs["aria-invalid"] == "true"
    assert email.attrs["aria-describedby"] == "id_email_helptext id_email_error"
    error = next(e for e in markup.elements if e.attrs.get("id") == "id_email_error")
    assert error.attrs["data-error-for"] == "email"
    assert "Enter a valid email address." in html


def test_a_refused_membership_change_marks_the_amount_invalid(client, offer):
    member(client)

    response = client.post(
        reverse("members:membership_change"), {"amount": "0.10", "interval": "month"}
    )

    html = response.content.decode()
    assert problems(html) == []
    amount = next(e for e in Markup.of(html).elements if e.attrs.get("name") == "amount")
    assert amount.attrs["aria-invalid"] == "true"
    assert amount.attrs["aria-describedby"] == "id_amount_error"


def test_the_fee_cover_checkbox_and_the_suggestions_are_labelled(client, offer):
    html = client.get(reverse("payments:give")).content.decode()
    markup = Markup.of(html)

    cover = next(e for e in markup.elements if e.attrs.get("name") == "cover_fees")
    assert cover.in_label
    box = next(e for e in markup.elements if e.attrs.get("id") == "suggestions")
    assert box.attrs == {"class": "suggestions", "id": "suggestions", "role": "group",
                         "aria-label": "Suggested amounts"}  # fmt: skip
    total = next(e for e in markup.elements if e.attrs.get("id") == "total")
    assert total.attrs["aria-live"] == "polite"


def test_the_gift_date_is_a_labelled_date_field_from_today(client, offer):
    markup = Markup.of(client.get(reverse("gifts:give")).content.decode())

    send_on = next(e for e in markup.elements if e.attrs.get("name") == "send_on")
    today = timezone.localdate()
    assert send_on.attrs["type"] == "date"
    assert send_on.attrs["min"] == today.isoformat()
    assert send_on.attrs["max"] == (today + timedelta(days=365)).isoformat()
    assert send_on.attrs["aria-describedby"] == "id_send_on_helptext id_send_on_error"


def test_the_gift_form_marks_a_date_in_the_past_invalid(db):
    yesterday = timezone.localdate() - timedelta(days=1)
    form = GiftForm({"months": "3", "currency": "EUR", "send_on": yesterday.isoformat()})
    assert "send_on" in form.errors

    html = render_to_string("partials/field.html", {"field": form["send_on"], "help": "Today"})

    send_on = next(e for e in Markup.of(html).elements if e.tag == "input")
    assert send_on.attrs["aria-invalid"] == "true"
    assert "id_send_on_error" in send_on.attrs["aria-describedby"]
