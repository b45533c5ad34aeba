from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self) -> None:
        from content import api_cache, receivers, selectors  # noqa: F401 (connects receivers)
        from payments import attribution

        attribution.register_article_lookup(selectors.source_article)
