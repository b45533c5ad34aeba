from django.db import models


class Article(models.Model):
    """An article on the publisher's site, known here so gifts can be attributed to it.

    Articles are never paywalled: this record only carries what the support
    block and the revenue figures need (slug, title, canonical address).
    """

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    url = models.URLField("canonical URL", max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title
