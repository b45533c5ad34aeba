"""Gift memberships: buy one for someone else, and claim one (see members/gifts.py)."""

from django.urls import path

app_name = "gifts"

urlpatterns: list = []
