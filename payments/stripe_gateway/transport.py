"""How requests reach Stripe: the configured client, idempotency keys, and Stripe's errors
turned into ours.

Network errors and 5xx answers are retried by the Stripe client itself (with
backoff, `STRIPE_MAX_NETWORK_RETRIES`, each try waiting `STRIPE_TIMEOUT` seconds)
and the same idempotency key, so a retried write happens once. A write that failed
is OutcomeUnknown when any of its tries may have reached Stripe (see `_Tries`), else
GatewayUnavailable. `_call`, `_write` and `_retrieve_or_none` are for the gateway's
own modules; everything else goes through the functions the package exports.
"""

import hashlib
import json
import logging
import re
from contextvars import ContextVar
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
import stripe
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from payments.stripe_gateway.errors import (
    GENERIC_MESSAGE,
    OUTCOME_UNKNOWN_MESSAGE,
    UNANSWERED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    CardDeclined,
    GatewayError,
    GatewayUnavailable,
    ObjectNotFound,
    OutcomeUnknown,
    card_message,
)
from payments.stripe_gateway.parsing import _id

logger = logging.getLogger(__name__)


class _Tries:
    """What the tries of one write (the client's own retries included) came to: whether
    any may have reached Stripe, so that its failure may not be called "not done"."""

    def __init__(self) -> None:
        self.may_have_reached = False


_TRIES: ContextVar[_Tries | None] = ContextVar("stripe_tries", default=None)


def _never_sent(error: BaseException | None) -> bool:
    """Whether a network error happened before the request left: no connection was made
    (refused, no such host, connect timeout). Anything else (a read timeout, a
    connection cut after sending) may have reached Stripe."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        return isinstance(cause, NewConnectionError | ConnectTimeoutError)
    return False


class _Session(requests.Session):
    """requests' Session, reading the environment's proxy and CA-bundle settings once per
    address rather than at every request (a third of a Stripe read's CPU, which is
    about 2 ms, measured): the environment of a running process does not change."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream)
        key += (verify, cert if not isinstance(cert, list) else tuple(cert))
        merged = self._environment.get(key)
        if merged is None:
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = merged
        return {**merged, "proxies": dict(merged["proxies"])}


class _RequestsClient(stripe.RequestsClient):
    """Stripe's requests-based HTTP client, noting each try of a write in `_TRIES`."""

    def request(self, method, url, headers, post_data=None):
        if getattr(self._thread_local, "session", None) is None:
            self._thread_local.session = _Session()  # one per thread, as Stripe's own
        tries = _TRIES.get()
        try:
            response = super().request(method, url, headers, post_data)
        except stripe.APIConnectionError as exc:
            if tries is not None and not _never_sent(exc.__cause__):
                tries.may_have_reached = True
            raise
        if tries is not None and (response[1] >= 500 or response[1] == 409):
            tries.may_have_reached = True  # failed midway, or the same key still at work
        return response


@cache
def _client(
    secret_key: str, api_base: str, api_version: str, timeout: int, retries: int
) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else {}
    return stripe.StripeClient(
        secret_key,
        stripe_version=api_version,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=retries,
        http_client=_RequestsClient(timeout=timeout),
    )


def client() -> stripe.StripeClient:
    """The Stripe client configured from settings (cached per configuration)."""
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_API_VERSION,
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def _detail(exc: stripe.StripeError) -> str:
    code = getattr(exc, "code", None) or ""
    return f"{type(exc).__name__} {exc.http_status or '-'} {code}: {exc.user_message or exc}"


_EMAIL = re.compile(r"[^\s@'\"<>(),:;]+@[^\s@'\"<>(),:;]+")


def _without_emails(text: str) -> str:
    """Stripe's error messages may quote a parameter back ("Invalid email address:
    ..."): no donor's address goes to the logs."""
    return _EMAIL.sub("[email]", text)


def _call(method, *args, **kwargs):
    """Call the Stripe client and turn its errors into ours."""
    try:
        return method(*args, **kwargs)
    except stripe.CardError as exc:
        intent = exc.error.payment_intent if exc.error else None
        raise CardDeclined(
            card_message(exc.code, exc.error.decline_code if exc.error else None),
            payment_intent_id=_id(intent),
            detail=_detail(exc),
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        logger.warning("Stripe unreachable: %s", exc)
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE, detail=_detail(exc)) from exc
    except stripe.APIError as exc:
        logger.warning("Stripe server error: %s", exc)
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE, detail=_detail(exc)) from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise ObjectNotFound(GENERIC_MESSAGE, detail=_detail(exc)) from exc
        logger.error("Stripe refused a request: %s", _without_emails(str(exc)))
        raise GatewayError(GENERIC_MESSAGE, detail=_detail(exc)) from exc
    except stripe.StripeError as exc:
        logger.error("Stripe refused a request: %s", _without_emails(str(exc)))
        raise GatewayError(GENERIC_MESSAGE, detail=_detail(exc)) from exc


def _write(
    method,
    *args,
    params: dict[str, Any] | None = None,
    idempotency_key: str,
    charges: bool = False,
):
    """A Stripe write, with an idempotency key that can only ever go with these parameters.

    `charges` says the write may take a reader's money (a payment, a subscription's
    first or prorated invoice): its unknown outcome is then told as a payment that may
    have gone through. Any other write moves no money, so "not charged" stays true.

    The caller's key names the operation on our record (so a retry after a
    timeout or a double click reaches Stripe with the same key and happens
    once). A digest of the endpoint and parameters is appended: Stripe refuses
    a key reused with other parameters for 24 hours, and with the digest a
    changed request (another amount, a corrected name) is a new request
    rather than a reader stuck behind an `idempotency_error`.
    """
    fingerprint = json.dumps(
        [getattr(method, "__qualname__", repr(method)), args, params or {}],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    request: dict[str, Any] = {"options": {"idempotency_key": f"{idempotency_key}-{digest}"}}
    if params is not None:
        request["params"] = params
    tries = _Tries()
    noting = _TRIES.set(tries)
    try:
        return _call(method, *args, **request)
    except GatewayError as exc:
        # Unreachable, 5xx, or the same key still at work at Stripe (409) after a try
        # that may have reached it: done or not, nobody knows yet.
        unanswered = isinstance(exc, GatewayUnavailable) or (
            getattr(exc.__cause__, "http_status", None) == 409
        )
        if not (unanswered and tries.may_have_reached):
            raise
        logger.warning("Stripe's answer to a write was lost: %s", exc.detail)
        said = OUTCOME_UNKNOWN_MESSAGE if charges else UNANSWERED_MESSAGE
        raise OutcomeUnknown(said, detail=exc.detail) from exc
    finally:
        _TRIES.reset(noting)


def _retrieve_or_none(method, object_id: str):
    """The object, or None when Stripe says it does not exist."""
    try:
        return _call(method, object_id)
    except ObjectNotFound:
        return None
