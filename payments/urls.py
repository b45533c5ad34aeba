from django.urls import path

from payments import views, webhooks

app_name = "payments"

urlpatterns = [
    path("give/", views.give, name="give"),
    path("give/start", views.give_start, name="give_start"),
    path("give/<uuid:public_id>/pay", views.give_pay, name="give_pay"),
    path("give/<uuid:public_id>/thanks", views.give_thanks, name="give_thanks"),
    path("stripe/webhook", webhooks.stripe_webhook, name="stripe_webhook"),
]
