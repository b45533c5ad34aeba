from django.contrib import admin
from django.db import models
from django.urls import reverse

from content.models import Article, ArticleDocument


class DocumentInline(admin.TabularInline):
    model = ArticleDocument
    extra = 0
    fields = ["title", "url", "position"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Staff write or correct articles here; a CMS import updates the same fields by slug.
    HTML fields are sanitised on save (content/html.py)."""

    list_display = ["title", "slug", "section", "author", "published_at"]
    list_filter = ["section"]
    search_fields = ["title", "slug", "author"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_at"
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "url", "section", "author", "published_at"]}),
        ("The article", {"fields": ["summary", "body"]}),
        ("For members", {"fields": ["member_notes"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [DocumentInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def view_on_site(self, obj: Article) -> str:
        return reverse("content:article", args=[obj.slug])
