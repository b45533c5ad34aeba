from django import forms


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        help_text="How we greet you in emails and receipts.",
    )
