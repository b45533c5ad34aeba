from django.urls import path

from content import views

app_name = "content"

urlpatterns = [
    path("articles/import", views.import_articles, name="import"),
    path("articles/<slug:slug>/", views.article, name="article"),
]
