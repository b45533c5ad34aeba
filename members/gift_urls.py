"""Gift memberships: buy one for someone else, and claim one (see members/services/gifts.py)."""

from django.urls import path

from members import gift_views as views

app_name = "gifts"

urlpatterns = [
    path("", views.give, name="give"),
    path("start", views.start, name="start"),
    path("<uuid:public_id>/thanks", views.thanks, name="thanks"),
    path("claim/<str:token>/", views.claim, name="claim"),
]
