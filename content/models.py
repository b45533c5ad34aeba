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
