from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the task broker answer; 503 naming what is down
    (never its address: the cause is in the log)."""
    down = [
        name
        for name, answers in (
            ("database", health.database_answers),
            ("broker", health.broker_answers),
        )
        if not answers()
    ]
    if down:
        return JsonResponse({"status": "down", "down": down}, status=503)
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
