"""What every page with a card form shares (give, gift membership, join, card update):
Stripe.js page data, the pages a guest gets from the cache, the card-testing checks
before Stripe is called, the answer that tells the page's script what to do next, and
the one error mapping of their JSON endpoints."""

import functools
import hashlib
import secrets
from collections.abc import Callable, Mapping

from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.module_loading import import_string

from config import ratelimit
from config.errors import Refused, TooManyAttempts
from config.forms import errors_by_field
from config.versioned_cache import LocalCopies, new_version, read_versioned
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.services.donations import PayOutcome


def json_endpoint(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Answer a refusal with its status (400, or 429 for too many attempts) and reason,
    and Stripe's failure with 502 and the reader-safe message. Nothing else to catch."""

    @functools.wraps(view)
    def answer(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except Refused as refusal:
            return JsonResponse(refusal.as_json(), status=refusal.status)
        except gateway.GatewayError as failure:
            return JsonResponse({"error": failure.user_message}, status=502)

    return answer


class InvalidForm(Refused):
    """A form with errors: every field's messages, as the page's script shows them."""

    def __init__(self, form) -> None:
        super().__init__("Please correct the errors below.")
        self.form = form

    def as_json(self) -> dict:
        return {"errors": errors_by_field(self.form)}


def valid(form):
    """The form, if valid; else InvalidForm (400 with its errors)."""
    if not form.is_valid():
        raise InvalidForm(form)
    return form


def stripe_page(**page_data) -> dict:
    """Template context for a page with a card form: Stripe.js and its script's data."""
    return {
        "page_data": {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "cardMessages": gateway.CARD_MESSAGES,
            **page_data,
        },
        "stripe_js_url": settings.STRIPE_JS_URL,
    }


# --- Pages a guest gets from the cache ---------------------------------------------------

# Seconds a guest's page is kept: the longest a change nobody announced (an article whose
# publication time passes, a bulk update, a new deploy's templates) takes to show.
# Announced changes (forget_reader_pages: prices, levels, articles) show at once.
READER_PAGE_SECONDS = 60
READER_PAGES_VERSION_KEY = "reader-pages:version"
# Seconds each process also keeps the guest pages it served in its own memory (no round
# trip to the cache): a change is seen at once by the process that made it
# (forget_reader_pages), by the others within this time.
READER_PAGE_LOCAL_SECONDS = 1.0
# At most this many pages kept per process; when full, the copies are dropped and kept afresh.
READER_PAGE_LOCAL_ENTRIES = 500

# This process's copies of guest pages
_local_pages = LocalCopies(lambda: READER_PAGE_LOCAL_SECONDS, READER_PAGE_LOCAL_ENTRIES)


def forget_reader_pages() -> None:
    """Drop every cached guest page (the next ones are rendered afresh): called when what
    they show changes (content/api_cache.py connects it to the models they read)."""
    forget_local_pages()
    new_version(READER_PAGES_VERSION_KEY)


def forget_local_pages() -> None:
    """Drop this process's copies of guest pages (forget_reader_pages; tests between tests)."""
    _local_pages.clear()


@receiver(setting_changed, dispatch_uid="reader-pages-setting-changed")
def _setting_changed(*, setting: str, **kwargs) -> None:
    """A setting a page shows (the newsroom's name, currencies...) changed in this process
    (tests, override_settings): its pages are rendered afresh."""
    if setting != "CACHES":
        forget_reader_pages()


def page_for_reader(
    request: HttpRequest,
    name: str,
    varies_on: Mapping[str, object],
    page: Callable[[], tuple[str, dict]],
) -> HttpResponse:
    """The page `page()` describes (template name, context), for this reader.

    A guest with no message waiting gets it from the cache when there (no query, no
    rendering): it is the same for every guest given `varies_on`, everything of the
    request the page shows. Only the CSRF token differs: the cached page holds a
    placeholder, replaced with this reader's token (so the cookie is set as usual). Each
    process also keeps the pages it served for READER_PAGE_LOCAL_SECONDS (no round trip).
    A signed-in reader's page (their email, their membership) is rendered for them and
    never cached. Either way the answer is private to the browser (it holds its token).
    """
    if request.user.is_authenticated or len(get_messages(request)):
        template, context = page()
        return _private(render(request, template, context))
    key = f"reader-pages:{name}:{_digest(varies_on)}"
    entry = _local_pages.get(key)
    if entry is None:
        entry = _shared_page(request, key, page)
        _local_pages.put(key, entry)
    _, body, placeholder = entry
    token = get_token(request).encode()
    return _private(HttpResponse(body.replace(placeholder, token)))


def _shared_page(
    request: HttpRequest, key: str, page: Callable[[], tuple[str, dict]]
) -> tuple[str, bytes, bytes]:
    """The guest page `key` from the shared cache, or rendered (with a placeholder for
    the CSRF token) and kept there: (cache version, body, placeholder)."""
    version, entry = read_versioned(READER_PAGES_VERSION_KEY, key)
    if entry is None:
        placeholder = secrets.token_hex(16)
        template, context = page()
        rendered = render(request, template, {**context, "csrf_token": placeholder})
        entry = (version, rendered.content, placeholder.encode())
        cache.set(key, entry, READER_PAGE_SECONDS)
    return entry


def _digest(varies_on: Mapping[str, object]) -> str:
    """What the page varies on, and this build's static files (a deploy's new scripts)."""
    manifest = getattr(staticfiles_storage, "manifest_hash", "")
    text = repr((manifest, sorted(varies_on.items())))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _private(response: HttpResponse) -> HttpResponse:
    """Kept by no shared cache, and asked again each time: it carries the reader's CSRF
    token, which signing in or out replaces."""
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ("Cookie",))
    return response


def member_email(request: HttpRequest) -> str | None:
    """The signed-in reader's address: members give as themselves."""
    return request.user.email if request.user.is_authenticated else None


def _giver_limit(request: HttpRequest, email: str) -> tuple[str, str]:
    """The rate-limit bucket a start counts in besides its address: a signed-in member's
    own account (strangers typing their address cannot fill it), else the email as
    `ratelimit.email_key` normalises it."""
    if request.user.is_authenticated:
        return "give-account", str(request.user.pk)
    return "give-email", ratelimit.email_key(email)


def refuse_blocked(
    request: HttpRequest, email: str | None = None, *, challenge_everyone: bool = False
) -> None:
    """A start from a source blocked for failed card checks (its address, the guest's email
    or the member's account: payments/card_testing.py) is refused with 429 until the block
    ends, unless it passes DONATION_CHALLENGE when one is configured. With
    `challenge_everyone`, every start must pass a configured challenge (400 otherwise)."""
    user_id = request.user.pk if request.user.is_authenticated else None
    blocked = card_testing.active_block(
        ip=ratelimit.client_ip(request), email=None if user_id else email, user_id=user_id
    )
    challenge = settings.DONATION_CHALLENGE
    if blocked is None and not (challenge and challenge_everyone):
        return
    if challenge and import_string(challenge)(request):
        return
    if blocked is not None:
        message = (
            card_testing.SOURCE_BLOCKED_CHALLENGE if challenge else card_testing.SOURCE_BLOCKED
        )
        raise TooManyAttempts(message, challenge=bool(challenge))
    raise Refused("Please complete the check and try again.")


def refuse_before_stripe(request: HttpRequest, email: str) -> None:
    """Card-testing defence for a new gift: rate limits per IP and per email (or member),
    then blocks for failed card checks, then the challenge."""
    ratelimit.require(
        ("give-ip", ratelimit.client_key(request), settings.DONATION_RATE_PER_IP),
        (*_giver_limit(request, email), settings.DONATION_RATE_PER_EMAIL),
    )
    refuse_blocked(request, email, challenge_everyone=True)


def payment_step(outcome: PayOutcome, **urls: str) -> JsonResponse:
    """What the page's script does next (Patronage.settle reads it), plus where to go after."""
    return JsonResponse(
        {
            "status": outcome.status,
            "clientSecret": outcome.client_secret,
            "error": outcome.message,
            "anotherCard": outcome.another_card,
            **urls,
        }
    )
