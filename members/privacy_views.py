"""The account page's data-protection pages: download your data, erase it."""

import json

from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from config.errors import Refused
from members import privacy
from payments import stripe_gateway as gateway

NOT_YET = (
    "We could not finish erasing your data: our card processor did not answer. "
    "Please try again in a minute."
)


class EraseForm(forms.Form):
    """Typing the account's address confirms that its owner, now, asks for erasure."""

    email = forms.EmailField(
        label="Type your email address to confirm",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, expected: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email != self.expected.lower():
            raise forms.ValidationError("This is not the address of the account you are in.")
        return email


def export_response(data: dict, *, filename: str) -> HttpResponse:
    """A person's data as a JSON download that no cache keeps."""
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def export_filename(stem: str) -> str:
    return f"{stem}-{timezone.localdate():%Y-%m-%d}.json"


@login_required
@require_GET
def data_export(request: HttpRequest) -> HttpResponse:
    """Everything we hold about the signed-in person, as a JSON file."""
    data = privacy.export_person(privacy.person_of_user(request.user))
    return export_response(data, filename=export_filename("my-data"))


@login_required
@require_http_methods(["GET", "POST"])
def data_erase(request: HttpRequest) -> HttpResponse:
    """Erase the signed-in person's data, once they confirm with their address."""
    form = EraseForm(request.POST or None, expected=request.user.email)
    if request.method == "POST" and form.is_valid():
        try:
            privacy.erase_person(privacy.person_of_user(request.user))
        except (gateway.GatewayError, Refused):
            form.add_error(None, NOT_YET)
        else:
            logout(request)
            return render(request, "members/erased.html")
    return render(request, "members/erase.html", {"form": form})
