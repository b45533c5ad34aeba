import re
from urllib.parse import urlsplit

from django import forms

from config.errors import Refused
from config.forms import no_markup, tracking_value
from payments.currencies import currency_choices, default_currency, get_currency
from payments.models import Attribution
from payments.money import Money, parse_major_amount
from payments.services.donations import check_amount

# The longest referring address kept (models.Attribution.referrer's column)
REFERRER_MAX_LENGTH = 500
# Control characters (C0, DEL, C1), spaces and bidirectional overrides
_NOT_IN_A_REFERRER = re.compile(r"[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def valid_referrer(value: object) -> str:
    """`value` if it is an absolute http(s) address with a host, no credentials, no
    control characters or spaces, at most REFERRER_MAX_LENGTH long; else ""."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if not value or len(value) > REFERRER_MAX_LENGTH or _NOT_IN_A_REFERRER.search(value):
        return ""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return ""
    return value


class ReferrerField(forms.CharField):
    """The page that sent the reader: a bad address is dropped (cleaned to ""), never an
    error, since the reader cannot fix it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def clean(self, value: object) -> str:
        return valid_referrer(value)


class ContributionForm(forms.Form):
    """An amount in an offered currency, and where the reader came from.

    Valid data has `amount_minor`: the amount in minor units, within the currency's bounds.
    `referrer` (the page that sent the reader) is kept only when it is a plain http(s)
    address; anything else is dropped, never an error: the reader cannot fix it.
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
    referrer = ReferrerField()

    ATTRIBUTION = ["campaign", *Attribution.LINK_FIELDS]

    @classmethod
    def initial_from_link(cls, params, *, referer: str = "", **extra: str) -> dict[str, str]:
        """Initial values from the page's link: ?currency=, ?from=<article slug>, UTM, and
        the referring page: ?ref=<address>, else `referer` (the Referer header of the page's
        request), whichever is a valid address (see `valid_referrer`)."""
        return {
            "currency": params.get("currency", "").upper() or default_currency().code,
            "source": params.get("from", ""),
            **{name: params.get(name, "") for name in cls.ATTRIBUTION},
            "referrer": valid_referrer(params.get("ref", "")) or valid_referrer(referer),
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
        as_member(self, member_email)

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError("Please leave this field empty.")
        return ""

    def clean_email(self) -> str:
        email = (self.member_email or self.cleaned_data.get("email") or "").strip().lower()
        if len(email) > 254:  # lower-casing can lengthen some letters
            raise forms.ValidationError("This email address is too long.")
        return email


def as_member(form: forms.Form, member_email: str | None) -> None:
    """A signed-in member gives or joins as themselves: their address, not editable."""
    form.member_email = member_email
    if member_email:
        form.fields["email"].required = False
        form.fields["email"].disabled = True
        form.fields["email"].initial = member_email


class MajorUnitAmountsForm(forms.ModelForm):
    """An admin form where staff type money as they read it ("5" or "5.50"); the model
    keeps it in the currency's minor unit (cents). `money_fields` names those fields;
    the currency is the form's `currency` field (or the object's). A form whose field
    holds money only sometimes (a campaign's goal: members or money) says when in
    `is_money`; otherwise the field takes a whole number."""

    money_fields: tuple[str, ...] = ("amount",)
    help_text = "In the currency, e.g. 5 or 5.50."

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        currency = self.initial.get("currency") or getattr(self.instance, "currency", "")
        for name in self.money_fields:
            model_field = self.fields[name]
            self.fields[name] = forms.CharField(
                label=model_field.label,
                required=model_field.required,
                max_length=24,
                help_text=self.help_text,
            )
            value = self.initial.get(name)
            if value not in (None, "") and currency and self.is_money(self.initial):
                self.initial[name] = Money(int(value), currency).as_decimal()

    def is_money(self, values: dict) -> bool:
        return True

    def clean(self) -> dict:
        data = super().clean()
        currency = data.get("currency") or getattr(self.instance, "currency", "")
        for name in self.money_fields:
            text = data.get(name)
            if not text:
                continue
            if not self.is_money(data):
                if text.strip().isascii() and text.strip().isdigit():
                    data[name] = int(text.strip())
                else:
                    self.add_error(name, "Enter a whole number.")
            elif not currency:
                self.add_error(name, "Choose the currency first.")
            else:
                try:
                    data[name] = parse_major_amount(text, currency)
                except ValueError as exc:
                    self.add_error(name, str(exc))
        return data
