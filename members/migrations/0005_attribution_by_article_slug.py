"""Attribution keeps the article's slug instead of a foreign key to content.Article,
so payments and members never depend on content. Existing links are copied over."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

MODELS = ["Membership", "GiftMembership"]


def copy_article_slugs(apps, schema_editor):
    article = apps.get_model("content", "Article")
    for name in MODELS:
        model = apps.get_model("members", name)
        slug = article.objects.filter(pk=OuterRef("article_id")).values("slug")[:1]
        model.objects.exclude(article=None).update(article_slug=Subquery(slug))


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_card_attempts_per_start"),
        ("content", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="article_slug",
            field=models.SlugField(blank=True, max_length=200, verbose_name="article"),
        ),
        migrations.AddField(
            model_name="giftmembership",
            name="article_slug",
            field=models.SlugField(blank=True, max_length=200, verbose_name="article"),
        ),
        migrations.RunPython(copy_article_slugs, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="membership",
            name="article",
        ),
        migrations.RemoveField(
            model_name="giftmembership",
            name="article",
        ),
    ]
