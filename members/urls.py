from django.urls import path

from members import privacy_views, views

app_name = "members"

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/card/", views.card, name="card"),
    path("account/card/start", views.card_start, name="card_start"),
    path("account/card/finish", views.card_finish, name="card_finish"),
    path("account/confirm-payment/", views.confirm_payment, name="confirm_payment"),
    path(
        "account/confirm-payment/settle",
        views.confirm_payment_settle,
        name="confirm_payment_settle",
    ),
    path("account/membership/change/", views.membership_change, name="membership_change"),
    path(
        "account/membership/change/preview",
        views.membership_change_preview,
        name="membership_change_preview",
    ),
    path("account/membership/cancel/", views.membership_cancel, name="membership_cancel"),
    path("account/membership/resume/", views.membership_resume, name="membership_resume"),
    path("account/receipts/<str:number>/", views.receipt, name="receipt"),
    path("account/statement/<int:year>/", views.statement, name="statement"),
    path("account/newsletters/", views.account_newsletters, name="newsletters"),
    path("account/supporters-wall/", views.account_supporters_wall, name="supporters_wall"),
    path("account/data/", privacy_views.data_export, name="data_export"),
    path("account/erase/", privacy_views.data_erase, name="data_erase"),
    path("supporters/", views.supporters_page, name="supporters"),
    path("join/", views.join, name="join"),
    path("join/start", views.join_start, name="join_start"),
    path("join/<uuid:public_id>/confirm", views.join_confirm, name="join_confirm"),
    path("join/<uuid:public_id>/welcome", views.join_welcome, name="join_welcome"),
]
