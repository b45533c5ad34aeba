from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from members.forms import ProfileForm
from members.services import update_profile
from payments.selectors import giving_history


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The member's own page: who they are and what they can change."""
    form = ProfileForm(request.POST or None, initial={"display_name": request.user.display_name})
    if request.method == "POST" and form.is_valid():
        update_profile(request.user, display_name=form.cleaned_data["display_name"])
        messages.success(request, "Your details are saved.")
        return redirect("members:account")
    return render(
        request,
        "members/account.html",
        {"form": form, "payments": giving_history(request.user)},
    )
