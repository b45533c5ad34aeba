from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import health


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the task broker answer; 503 naming what is down."""
    problems = {
        name: problem
        for name, problem in (
            ("database", health.database_problem()),
            ("broker", health.broker_problem()),
        )
        if problem
    }
    if problems:
        return JsonResponse({"status": "down", "down": problems}, status=503)
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
