"""Request checks that belong to no app."""

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_UTF8 = "The request was not valid UTF-8 text. Nothing was saved."


def _is_utf8(encoded: bytes) -> bool:
    """Whether every name and value of a URL-encoded string decodes as UTF-8."""
    for pair in encoded.replace(b";", b"&").split(b"&"):
        try:
            unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _valid(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    if not _is_utf8(query):
        return False
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith(FORM_TYPES[0]):
        return _is_utf8(request.body)
    if content_type.startswith(FORM_TYPES[1]):
        return not any("\ufffd" in value for _, values in request.POST.lists() for value in values)
    return True


def refuse_invalid_utf8(get_response: Callable[[HttpRequest], HttpResponse]):
    """Answer 400 to a query string or form body that is not valid UTF-8.

    Django would decode it with replacement characters (U+FFFD) and store the
    damaged text; browsers always send UTF-8, so only a broken or hostile
    client sends anything else. Multipart fields, which Django has already
    decoded that way, are refused when they hold a replacement character. JSON
    and webhook bodies are the views' to check.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if not _valid(request):
            if request.headers.get("X-CSRFToken") or "json" in request.headers.get("Accept", ""):
                return JsonResponse({"error": NOT_UTF8}, status=400)
            return HttpResponse(NOT_UTF8, status=400, content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware
