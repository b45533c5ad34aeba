from django import forms

from config.errors import Refused
from config.forms import no_markup, tracking_value
from payments.currencies import currency_choices, default_currency, get_currency
from payments.money import parse_major_amount
from payments.services.donations import check_amount


class ContributionForm(forms.Form):
    """An amount in an offered currency, and where the reader came from.

    Valid data has `amount_minor`: the amount in minor units, within the currency's bounds.
    """

    amount = forms.CharField(max_length=20, help_text="Any amount, in the chosen currency.")
    currency = forms.ChoiceField(choices=currency_choices)
    # Attribution, carried from the article's link (?from=<slug>&utm_source=...)
    source = forms.SlugField(max_length=200, required=False)
    campaign = forms.CharField(max_length=100, required=False, validators=[tracking_value])
    utm_source = forms.CharField(max_length=100, required=False, validators=[tracking_value])
    utm_medium = forms.CharField(max_length=100, required=False, validators=[tracking_value])
    utm_campaign = forms.CharField(max_length=100, required=False, validators=[tracking_value])
    utm_content = forms.CharField(max_length=100, required=False, validators=[tracking_value])
    utm_term = forms.CharField(max_length=100, required=False, validators=[tracking_value])

    ATTRIBUTION = [
        "campaign",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
    ]

    @classmethod
    def initial_from_link(cls, params, **extra: str) -> dict[str, str]:
        """Initial values from the page's link: ?currency=, ?from=<article slug>, UTM."""
        return {
            "currency": params.get("currency", "").upper() or default_currency().code,
            "source": params.get("from", ""),
            **{name: params.get(name, "") for name in cls.ATTRIBUTION},
            **extra,
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        currency = cleaned.get("currency")
        typed = cleaned.get("amount")
        if currency and typed is not None and get_currency(currency):
            try:
                amount = parse_major_amount(typed, currency)
                check_amount(amount, currency)
            except ValueError as exc:
                self.add_error("amount", str(exc))
            except Refused as exc:
                self.add_error(exc.field or "amount", exc.message)
            else:
                cleaned["amount_minor"] = amount
        return cleaned

    def attribution(self) -> dict[str, str]:
        """The fields of `models.Attribution`, from the cleaned link parameters."""
        return {
            "article_slug": self.cleaned_data.get("source") or "",
            **{name: self.cleaned_data.get(name) or "" for name in self.ATTRIBUTION},
        }


class DonationForm(ContributionForm):
    """'Support us just once': what the reader types, checked before anything reaches Stripe."""

    email = forms.EmailField(max_length=254, help_text="Your receipt goes here.")
    name = forms.CharField(
        max_length=200, required=False, validators=[no_markup], label="Name (optional)"
    )
    cover_fees = forms.BooleanField(required=False, label="Add a little to cover the card fees")
    # Left empty by people, filled by naive bots.
    website = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, member_email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member_email = member_email
        if member_email:
            # A signed-in member gives as themselves.
            self.fields["email"].required = False
            self.fields["email"].disabled = True
            self.fields["email"].initial = member_email

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError("Please leave this field empty.")
        return ""

    def clean_email(self) -> str:
        email = (self.member_email or self.cleaned_data.get("email") or "").strip().lower()
        if len(email) > 254:  # lower-casing can lengthen some letters
            raise forms.ValidationError("This email address is too long.")
        return email
