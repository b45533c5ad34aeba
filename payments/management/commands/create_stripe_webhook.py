"""Create the Stripe webhook endpoint this site needs, in the API version it pins."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments import stripe_gateway as gateway
from payments.services.inbox import handled_types


class Command(BaseCommand):
    help = (
        "Register https://<your site>/stripe/webhook with Stripe, for the event types "
        "Patronage acts on, in the API version it pins; prints the signing secret to put "
        "in STRIPE_WEBHOOK_SECRET."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("url", help="e.g. https://support.example.org/stripe/webhook")

    def handle(self, *args, url: str, **options) -> None:
        if not url.startswith("https://") and not settings.DEBUG:
            raise CommandError("Stripe delivers live events to https:// addresses only.")
        try:
            endpoint_id, secret = gateway.create_webhook_endpoint(url=url, events=handled_types())
        except gateway.GatewayError as exc:
            raise CommandError(f"Stripe refused: {exc.detail}") from exc
        self.stdout.write(f"Webhook endpoint {endpoint_id} created for {url}")
        self.stdout.write(f"API version: {settings.STRIPE_API_VERSION}")
        self.stdout.write(f"Events: {', '.join(handled_types())}")
        self.stdout.write(f"Set STRIPE_WEBHOOK_SECRET={secret}")
