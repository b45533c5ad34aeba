from django import forms

from members.states import Interval
from payments.forms import ContributionForm, no_markup
from payments.money import parse_major_amount
from payments.services import DonationRefused, check_gift_amount


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        help_text="How we greet you in emails and receipts.",
    )


class JoinForm(ContributionForm):
    """'Become a member': an amount per month or year, in an offered currency."""

    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.MONTH)


class ChangeMembershipForm(forms.Form):
    """A member's new amount and/or interval (their currency stays)."""

    amount = forms.CharField(max_length=20)
    interval = forms.ChoiceField(choices=Interval.choices)

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int:
        try:
            amount = parse_major_amount(self.cleaned_data["amount"], self.currency)
            check_gift_amount(amount, self.currency)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        except DonationRefused as exc:
            raise forms.ValidationError(exc.message) from exc
        return amount


class CancelMembershipForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        required=False,
        validators=[no_markup],
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Would you tell us why? (optional)",
    )
