"""Create or update articles from the newsroom's CMS: an RSS/Atom feed or the JSON format.

    manage.py import_articles https://news.example.org/feed/
    manage.py import_articles articles.json
    some-export | manage.py import_articles -
    manage.py import_articles feed.xml --dry-run

Run it from cron to keep articles in step: it is idempotent (articles are matched by
slug and saved only when something changed) and all or nothing (a bad item names its
field and nothing is written). The formats are described in content/importing.py.
"""

import sys
import urllib.request
from urllib.error import URLError

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.errors import Refused
from content import importing
from content.services import articles as article_service
from content.services.articles import CREATED, UNCHANGED, UPDATED

MAX_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 30


class Command(BaseCommand):
    help = (
        "Create or update articles from an RSS/Atom feed or JSON (a file, - for stdin, or "
        "an http(s) address). Idempotent; all or nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="A file, - for standard input, or an http(s) URL.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would change; write nothing."
        )

    def handle(self, *args, source: str, dry_run: bool, **options) -> None:
        data, content_type = self._read(source)
        try:
            articles = importing.read_articles(data, content_type=content_type)
            with transaction.atomic():
                result = article_service.import_articles(articles)
                if dry_run:
                    transaction.set_rollback(True)
        except Refused as refusal:
            where = f"{refusal.field}: " if refusal.field else ""
            raise CommandError(f"Nothing imported. {where}{refusal.message}") from None

        if options["verbosity"] >= 2:
            for slug, outcome in result.outcomes.items():
                self.stdout.write(f"  {outcome:9} {slug}")
        prefix = "Dry run, nothing written: would be " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{result.count(CREATED)} created, {result.count(UPDATED)} updated, "
                f"{result.count(UNCHANGED)} unchanged."
            )
        )

    def _read(self, source: str) -> tuple[bytes, str]:
        """The bytes to import, and their type as declared (HTTP) or named (a .json file)."""
        if source == "-":
            data, content_type = sys.stdin.buffer.read(MAX_BYTES + 1), ""
        elif source.startswith(("http://", "https://")):
            request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
                source, headers={"User-Agent": "Patronage article import"}
            )
            try:
                with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                    data = response.read(MAX_BYTES + 1)
                    content_type = response.headers.get("Content-Type", "")
            except (URLError, OSError, ValueError) as exc:
                raise CommandError(f"Could not fetch {source}: {exc}") from None
        else:
            try:
                with open(source, "rb") as file:
                    data = file.read(MAX_BYTES + 1)
            except OSError as exc:
                raise CommandError(f"Could not read {source}: {exc}") from None
            content_type = "application/json" if source.lower().endswith(".json") else ""
        if len(data) > MAX_BYTES:
            raise CommandError(f"{source} is larger than {MAX_BYTES} bytes.")
        return data, content_type
