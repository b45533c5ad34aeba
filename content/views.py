"""Article pages (the whole article, for everyone) and the import endpoint for the CMS."""

import secrets

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from config.errors import Refused
from content import importing, selectors, support
from content.services import articles as article_service
from payments.pages import json_endpoint

# What a signed-in caller of the import endpoint needs (superusers have both).
IMPORT_PERMISSIONS = ("content.add_article", "content.change_article")


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    """The full article, never locked; under it the support block for this reader
    (content/support.py), with the notes and documents behind the story for members."""
    page = selectors.article_for_page(slug, preview=request.user.is_staff)
    if page is None:
        raise Http404
    state = support.reader_state(request.user)
    request._reader_has_perks = state.has_perks  # the header asks too (selectors)
    block = support.support_block(page, request.user, state=state)
    response = render(
        request,
        "content/article.html",
        {
            "article": page,
            "support": block,
            "has_member_extras": bool(page.member_notes or page.documents.all()),
        },
    )
    if settings.CONTENT_IMAGE_ORIGINS:  # images in articles served from the publisher's site
        response._csp_update = {"img-src": settings.CONTENT_IMAGE_ORIGINS}
    return response


# A bearer token is never sent by a browser on its own, so token calls need no CSRF
# token; signed-in staff calls are checked for one in `_refuse_caller`.
@csrf_exempt
@require_POST
@json_endpoint
def import_articles(request: HttpRequest) -> JsonResponse:
    """Create or update articles from the JSON format (content/importing.py); all or nothing.

    200 with created/updated/unchanged counts; 400 naming the field at fault, nothing
    written; 401 without a valid token or sign-in; 403 for a signed-in non-editor.
    """
    refusal = _refuse_caller(request)
    if refusal is not None:
        return refusal
    try:
        body = request.body
    except RequestDataTooBig:
        raise Refused(
            f"More than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes: send fewer articles at once."
        ) from None
    result = article_service.import_articles(importing.read_json(body))
    return JsonResponse(result.as_json())


def _refuse_caller(request: HttpRequest) -> JsonResponse | None:
    """None for a caller with the import token, or signed-in staff who may edit articles
    (with the page's CSRF token); else the answer to give them."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        expected = settings.CONTENT_IMPORT_TOKEN
        if (
            scheme.lower() == "bearer"
            and expected
            and secrets.compare_digest(token.strip().encode(), expected.encode())
        ):
            return None
        return _unauthorized("This token is not accepted.")
    if not request.user.is_authenticated:
        return _unauthorized("Sign in as staff, or send the import token.")
    csrf = CsrfViewMiddleware(lambda _request: HttpResponse())
    csrf.process_request(request)
    if csrf.process_view(request, None, (), {}) is not None:
        return JsonResponse(
            {"error": "The CSRF check failed; send the X-CSRFToken header."}, status=403
        )
    if not (request.user.is_staff and request.user.has_perms(IMPORT_PERMISSIONS)):
        return JsonResponse(
            {"error": "Only staff who may edit articles can import them."}, status=403
        )
    return None


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="articles"'
    return response
