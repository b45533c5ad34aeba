from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/card/", views.card, name="card"),
    path("account/card/start", views.card_start, name="card_start"),
    path("account/card/finish", views.card_finish, name="card_finish"),
    path("join/", views.join, name="join"),
    path("join/start", views.join_start, name="join_start"),
    path("join/<uuid:public_id>/confirm", views.join_confirm, name="join_confirm"),
    path("join/<uuid:public_id>/welcome", views.join_welcome, name="join_welcome"),
]
