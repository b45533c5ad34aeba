from urllib.parse import urljoin

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import escape, format_html

from config.admin_base import DateRangeFilter, LargeListMixin
from content.models import Article, ArticleDocument, Campaign, GoalKind
from payments.forms import MajorUnitAmountsForm
from payments.money import Money


class DocumentInline(admin.TabularInline):
    model = ArticleDocument
    extra = 0
    fields = ["title", "url", "position"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Article)
class ArticleAdmin(LargeListMixin, admin.ModelAdmin):
    """Staff write or correct articles here; a CMS import updates the same fields by slug.
    HTML fields are sanitised on save (content/html.py)."""

    list_display = ["title", "slug", "section", "author", "published_at"]
    list_filter = ["section", ("published_at", DateRangeFilter)]
    search_fields = ["title", "slug", "author"]
    prepopulated_fields = {"slug": ["title"]}
    list_defer = ("summary", "body", "member_notes")  # the article's text: not in the list
    readonly_fields = ["created_at", "updated_at", "embed_snippet"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "url", "section", "author", "published_at"]}),
        ("The article", {"fields": ["summary", "body"]}),
        ("For members", {"fields": ["member_notes"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
        ("On the publisher's site", {"fields": ["embed_snippet"]}),
    ]
    inlines = [DocumentInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="support block snippet")
    def embed_snippet(self, obj: Article) -> str:
        """The one tag the publisher pastes under this article (static/js/embed.js)."""
        if not obj.pk:
            return "Save the article first."
        return format_html(
            '<textarea readonly rows="2" cols="100" class="vLargeTextField" '
            'aria-label="Support block snippet">{}</textarea>'
            '<div class="help">Paste under the article on your site. Its page must '
            "allow this site in script-src, style-src and connect-src, and its origin must "
            "be in SUPPORT_API_ALLOWED_ORIGINS.</div>",
            escape(embed_snippet(obj.slug)),
        )

    def view_on_site(self, obj: Article) -> str:
        return reverse("content:article", args=[obj.slug])


def embed_snippet(slug: str) -> str:
    """`<script src=".../static/js/embed.js" data-article="<slug>" async></script>`, with
    the file's unhashed address, which stays the same from one release to the next."""
    src = urljoin(urljoin(settings.SITE_URL + "/", settings.STATIC_URL), "js/embed.js")
    return format_html('<script src="{}" data-article="{}" async></script>', src, slug)


class CampaignForm(MajorUnitAmountsForm):
    """The goal in new members, or in money as staff read it (5000 or 5000.50)."""

    money_fields = ("goal",)
    help_text = "New members (a number), or money in the campaign's currency (e.g. 5000)."

    def is_money(self, values: dict) -> bool:
        return values.get("goal_kind") == GoalKind.MONEY


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Appeals with a goal. The counters move only as gifts and memberships that name the
    campaign's slug (?campaign=<slug>) are paid or start (content/services/campaigns.py)."""

    form = CampaignForm
    list_display = ["name", "slug", "goal_kind", "progress", "starts_at", "ends_at"]
    list_filter = ["goal_kind"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["new_members", "gifts", "amount_raised", "created_at"]
    fields = [
        "name",
        "slug",
        "goal_kind",
        "goal",
        "currency",
        "starts_at",
        "ends_at",
        "new_members",
        "gifts",
        "amount_raised",
        "created_at",
    ]

    @admin.display(description="progress")
    def progress(self, campaign: Campaign) -> str:
        if campaign.goal_kind == GoalKind.MONEY and campaign.currency:
            raised, goal = campaign.amount_raised, campaign.goal
            return f"{Money(raised, campaign.currency)} of {Money(goal, campaign.currency)}"
        return f"{campaign.new_members} of {campaign.goal} new members"
