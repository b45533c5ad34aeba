"""Form helpers every app's forms share: validators for typed text, errors as JSON."""

from django import forms
from django.core.validators import RegexValidator

# Names and messages people type: no markup, no control characters (C0, DEL, C1) and
# no bidirectional overrides, which can make a name on a receipt read backwards.
no_markup = RegexValidator(
    r"^[^<>\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*\Z",
    "Please use letters, numbers and ordinary punctuation only.",
)
tracking_value = RegexValidator(
    r"^[\w.\-+~%/: ]*\Z", "Only letters, numbers and - _ . + ~ %% / : are allowed here."
)


def add_refusal(form: forms.Form, refusal) -> None:
    """Show a service's refusal (config.errors.Refused) on its field, or on the form."""
    form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)


def errors_by_field(form: forms.Form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}
