from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.core import context as allauth_context
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from config.errors import Refused
from config.forms import no_markup
from members.services import gifts
from members.states import GIFT_MONTHS, CancelReason, Interval
from payments.forms import ContributionForm, DonationForm, as_member
from payments.money import parse_major_amount
from payments.services.donations import check_amount


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        validators=[no_markup],
        help_text="How we greet you in emails and receipts.",
    )


class JoinForm(ContributionForm):
    """'Become a member': an amount per month or year, in an offered currency, and the
    guest's email (a signed-in reader joins as themselves: `member_email`)."""

    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.MONTH)
    email = forms.EmailField(
        max_length=254,
        label="Your email",
        help_text="Your receipts go here, and you sign in with it: no password needed.",
    )

    def __init__(self, *args, member_email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        as_member(self, member_email)

    # The same rules as the give form's email: lower case, the member's own when signed in.
    clean_email = DonationForm.clean_email


class ChangeMembershipForm(forms.Form):
    """A member's new amount and/or interval (their currency stays)."""

    amount = forms.CharField(max_length=20)
    interval = forms.ChoiceField(choices=Interval.choices)
    # When the price was shown (unix seconds): the credit is counted from then.
    quoted_at = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int:
        try:
            amount = parse_major_amount(self.cleaned_data["amount"], self.currency)
            check_amount(amount, self.currency)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        except Refused as exc:
            raise forms.ValidationError(exc.message) from exc
        return amount


class CancelMembershipForm(forms.Form):
    category = forms.ChoiceField(
        choices=[("", "I'd rather not say"), *CancelReason.choices[:-1]],
        required=False,
        widget=forms.RadioSelect,
        label="Why are you leaving?",
    )
    reason = forms.CharField(
        max_length=500,
        required=False,
        validators=[no_markup],
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Would you tell us why? (optional)",
    )


class GiftForm(DonationForm):
    """A membership for someone else: the donation form plus who, how long, and when.

    The page starts with the price for the months in the amount box (gift_views.give); an
    empty amount still pays that price (see gifts.gift_amount).
    """

    amount = forms.CharField(
        max_length=20,
        required=False,
        help_text="The price for the months chosen. You may give more.",
    )
    name = forms.CharField(max_length=200, validators=[no_markup], label="Your name")
    months = forms.TypedChoiceField(
        choices=[(m, f"{m} month{'s' if m > 1 else ''}") for m in GIFT_MONTHS],
        coerce=int,
        initial=12,
    )
    recipient_email = forms.EmailField(max_length=254, label="Their email")
    recipient_name = forms.CharField(
        max_length=200, required=False, validators=[no_markup], label="Their name (optional)"
    )
    message = forms.CharField(
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Your message (optional)",
    )
    send_on = forms.DateField(
        label="Send it on", widget=forms.DateInput(attrs={"type": "date"}), initial=None
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["send_on"].initial = today
        # The date picker offers the days check_gift_details accepts.
        self.fields["send_on"].widget.attrs.update(
            min=today.isoformat(), max=(today + gifts.MAX_SEND_AHEAD).isoformat()
        )

    def clean_message(self) -> str:
        message = self.cleaned_data.get("message", "").replace("\r\n", "\n")
        for line in message.split("\n"):  # line breaks are fine, markup is not
            no_markup(line)
        return message

    def clean_recipient_email(self) -> str:
        return self.cleaned_data["recipient_email"].strip().lower()

    def clean(self) -> dict:
        if not self.cleaned_data.get("amount"):
            self.cleaned_data.pop("amount", None)  # the standard price, worked out by the service
        cleaned = super().clean()
        months, send_on = cleaned.get("months"), cleaned.get("send_on")
        if months is not None and send_on is not None:
            try:
                gifts.check_gift_details(months=months, send_on=send_on)
            except Refused as exc:
                self.add_error(exc.field, exc.message)
        return cleaned


class NewsletterForm(forms.Form):
    """The newsletters a reader is on, among those offered to them (account page)."""

    newsletters = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Newsletters"
    )

    def __init__(self, *args, offered, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.offered = list(offered)
        self.fields["newsletters"].choices = [(n.slug, n.name) for n in self.offered]


class SupportersWallForm(forms.Form):
    """One click on the account page: listed on the supporters page, or not."""

    listed = forms.TypedChoiceField(
        choices=[("1", "Listed"), ("0", "Not listed")], coerce=lambda value: value == "1"
    )


class RequestLoginCodeForm(AllauthRequestLoginCodeForm):
    """allauth's "email me a sign-in code" form, its address filled in from the link
    (`?email=`, as the welcome email's link gives it), as allauth's sign-up form does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = allauth_context.request
        email = request.GET.get("email", "") if request is not None else ""
        if not self.is_bound and "email" in self.fields and email:
            try:
                validate_email(email)
            except ValidationError:
                return
            self.fields["email"].initial = email
