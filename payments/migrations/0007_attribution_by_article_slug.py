"""Attribution keeps the article's slug instead of a foreign key to content.Article,
so payments and members never depend on content. Existing links are copied over."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

MODELS = ["Donation", "Payment"]


def copy_article_slugs(apps, schema_editor):
    article = apps.get_model("content", "Article")
    for name in MODELS:
        model = apps.get_model("payments", name)
        slug = article.objects.filter(pk=OuterRef("article_id")).values("slug")[:1]
        model.objects.exclude(article=None).update(article_slug=Subquery(slug))


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_card_testing_failures_and_blocks"),
        ("content", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="donation",
            name="article_slug",
            field=models.SlugField(blank=True, max_length=200, verbose_name="article"),
        ),
        migrations.AddField(
            model_name="payment",
            name="article_slug",
            field=models.SlugField(blank=True, max_length=200, verbose_name="article"),
        ),
        migrations.RunPython(copy_article_slugs, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="payment",
            name="payments_pa_article_12641f_idx",
        ),
        migrations.RemoveField(
            model_name="donation",
            name="article",
        ),
        migrations.RemoveField(
            model_name="payment",
            name="article",
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                fields=["article_slug", "paid_at"], name="payments_pa_article_0cb065_idx"
            ),
        ),
    ]
