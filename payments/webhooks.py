"""The Stripe webhook endpoint: verify, store, enqueue. Nothing else."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import stripe_gateway as gateway
from payments.services import inbox


@csrf_exempt  # Stripe signs its requests instead
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """200 once the event is stored (or was already); 400 if it is not a genuine event.

    If the database is down the exception becomes a 500, so Stripe retries.
    """
    try:
        event = gateway.verify_webhook(request.body, request.headers.get("Stripe-Signature"))
    except gateway.InvalidWebhook as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    stored, created = inbox.receive_event(event)
    return JsonResponse({"received": stored.stripe_id, "duplicate": not created})
