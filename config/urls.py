from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from config import branding, views

# Staff sign in through allauth too, so its rate limits guard the admin.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("brand.css", branding.brand_css, name="brand_css"),
    path("accounts/", include("allauth.urls")),
    path("", include("members.urls")),
    path("gift/", include("members.gift_urls")),
    path("", include("payments.urls")),
    path("", include("content.urls")),
    path("api/", include("content.api_urls")),
    path("admin/", admin.site.urls),
]
