"""Articles: the newsroom's journalism, free for everyone, mirrored from the publisher's CMS.

No article is ever locked. Members get extras (notes from behind the story,
documents), never access. Every HTML field is sanitised when it is saved
(`content.html`), so templates may print it as it is, whoever wrote it: staff in
admin or a feed import.
"""

from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from content import html
from payments.currencies import currency_choices

WEB_ADDRESS = URLValidator(schemes=["http", "https"])


class Article(models.Model):
    """One article, shown in full at /articles/<slug>/ and named by gifts made after it.

    The slug is the article's name everywhere: the publisher's support-block links
    carry it (`/give/?from=<slug>`), and imports update the article with that slug.
    """

    slug = models.SlugField(
        max_length=200,
        unique=True,
        help_text="As in the publisher's links (/give/?from=this-slug); imports update by it.",
    )
    title = models.CharField(max_length=300)
    url = models.URLField(
        "canonical URL",
        max_length=500,
        blank=True,
        validators=[WEB_ADDRESS],
        help_text="The article on the publisher's site.",
    )
    section = models.CharField(max_length=100, blank=True)
    author = models.CharField(max_length=200, blank=True, help_text="The byline.")
    published_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Empty or in the future: not on the site yet (staff can preview it).",
    )
    summary = models.TextField(
        blank=True,
        help_text="A sentence or two for lists. HTML: links and emphasis only.",
    )
    body = models.TextField(
        blank=True,
        help_text="The full article, shown to everyone. HTML; scripts, styles and unsafe "
        "links are removed when it is saved.",
    )
    member_notes = models.TextField(
        "behind the story",
        blank=True,
        help_text="Members only: notes from the reporters. HTML, cleaned like the body.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.sanitise()
        super().save(*args, **kwargs)

    def sanitise(self) -> None:
        """Clean every HTML field (what `save()` does first); relative links are read
        against the article's own address on the publisher's site."""
        base = self.url or None
        self.summary = html.clean_inline(self.summary, base_url=base)
        self.body = html.clean(self.body, base_url=base)
        self.member_notes = html.clean(self.member_notes, base_url=base)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None and self.published_at <= timezone.now()


class ArticleDocument(models.Model):
    """A document behind the story (a court filing, a dataset): a member extra."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    url = models.URLField("address", max_length=500, validators=[WEB_ADDRESS])
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower shows first.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "document (members only)"
        verbose_name_plural = "documents (members only)"

    def __str__(self) -> str:
        return self.title


class GoalKind(models.TextChoices):
    MEMBERS = "members", "New members"
    MONEY = "money", "Money"


class CampaignQuerySet(models.QuerySet):
    def live(self, at=None) -> "CampaignQuerySet":
        """Campaigns running at `at` (now): started, and not ended."""
        at = at or timezone.now()
        return self.filter(starts_at__lte=at).filter(
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=at)
        )


class Campaign(models.Model):
    """An appeal with a goal ("Winter appeal: 500 new members") and a live meter.

    Gifts and memberships whose attribution names the campaign's slug (`?campaign=<slug>`
    on the give, join and gift pages; the support block adds it while the campaign runs)
    count towards it once each, in the counters below (content/services/campaigns.py):
    the meter reads one row, never the ledger.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="As in the campaign's links (?campaign=this-slug).",
    )
    goal_kind = models.CharField(max_length=10, choices=GoalKind.choices, default=GoalKind.MEMBERS)
    goal = models.PositiveIntegerField(
        help_text="New members, or money in the currency's minor unit (cents)."
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        choices=currency_choices,
        help_text="Money goals only: only gifts in this currency count.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: runs until ended.")
    # Counters, only ever changed with F() by content/services/campaigns.py
    new_members = models.PositiveIntegerField(
        default=0, editable=False, help_text="Memberships started and gift memberships bought."
    )
    gifts = models.PositiveIntegerField(default=0, editable=False, help_text="One-time payments.")
    amount_raised = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="In the campaign's currency, minor units."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(goal_kind=GoalKind.MONEY) | ~models.Q(currency=""),
                name="content_campaign_money_goal_has_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(goal__gt=0), name="content_campaign_goal_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.goal_kind == GoalKind.MONEY and not self.currency:
            raise ValidationError({"currency": "A money goal needs its currency."})
        if self.goal_kind == GoalKind.MEMBERS:
            self.currency = ""
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end comes after the start."})

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.starts_at <= now and (self.ends_at is None or self.ends_at > now)

    @property
    def progress(self) -> int:
        return self.amount_raised if self.goal_kind == GoalKind.MONEY else self.new_members


class CampaignContribution(models.Model):
    """One payment or membership counted towards a campaign: unique, so an event
    delivered twice never counts twice."""

    class Source(models.TextChoices):
        PAYMENT = "payment", "Payment"
        MEMBERSHIP = "membership", "Membership"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contributions")
    source = models.CharField(max_length=10, choices=Source.choices)
    source_id = models.PositiveBigIntegerField(help_text="The payment's or membership's id.")
    new_members = models.PositiveSmallIntegerField(default=0)
    amount = models.PositiveBigIntegerField(default=0, help_text="Counted, in minor units.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "source", "source_id"], name="content_contribution_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.source_id} for {self.campaign}"
