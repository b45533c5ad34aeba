"""A reader's browser over HTTP: cookies, Django's CSRF token, the pages' JSON calls,
and Stripe.js's calls to Stripe (through `tests/support/stripejs.py`).
"""

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from bench.simulation.mailbox import Mailbox


class LoopbackCookies(RequestsCookieJar):
    """Browsers treat http://127.0.0.1 as a secure context and send it `Secure` cookies
    (the site sets them so with DEBUG=0); Python's cookie jar would not, so here a
    cookie is kept as one that may go over plain HTTP (this jar only meets loopback)."""

    def set_cookie(self, cookie, *args, **kwargs):
        cookie.secure = False
        return super().set_cookie(cookie, *args, **kwargs)


class UnexpectedPage(AssertionError):
    """The site answered something a browser following the journey would not expect."""


@dataclass(frozen=True)
class Step:
    """What a page's script does next (the JSON of payments.views.payment_step)."""

    status: str
    client_secret: str | None
    another_card: bool  # declined, and the same payment takes another card
    error: str | None


class Browser:
    """One reader's browser, with an address of its own (X-Forwarded-For)."""

    def __init__(self, site: str, *, ip: str) -> None:
        self.site = site
        self.session = requests.Session()
        self.session.cookies = LoopbackCookies()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=4))
        # A connection per request: the server closes idle kept-alive ones after two
        # seconds, and a reader's next click would meet a reset, which a browser retries
        # quietly and requests does not.
        self.session.headers.update(
            {
                "X-Forwarded-For": ip,
                "User-Agent": "patronage-sim",
                "Origin": site,
                "Connection": "close",
            }
        )

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else self.site + path

    @property
    def csrf(self) -> str:
        return self.session.cookies.get("csrftoken", "")

    def page(self, path: str, *, expect: int = 200) -> str:
        """GET a page as a reader opens it (redirects followed)."""
        response = self.session.get(self._url(path), timeout=60)
        if response.status_code != expect:
            raise UnexpectedPage(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response.text

    def form(self, path: str, data: dict[str, str]) -> requests.Response:
        """Submit a form on a page opened before (its CSRF cookie set); not following redirects."""
        body = {"csrfmiddlewaretoken": self.csrf, **data}
        headers = {"Referer": self._url(path)}
        return self.session.post(
            self._url(path), data=body, headers=headers, timeout=60, allow_redirects=False
        )

    def call(self, path: str, data: dict[str, str] | None = None) -> tuple[int, dict]:
        """A page script's fetch(): POST with the X-CSRFToken header; (status, JSON)."""
        response = self.session.post(
            self._url(path), data=data or {}, headers={"X-CSRFToken": self.csrf}, timeout=60
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:300]}
        return response.status_code, payload

    def step(self, path: str, data: dict[str, str] | None = None) -> Step:
        status, payload = self.call(path, data)
        if status != 200:
            raise UnexpectedPage(f"POST {path}: {status} {payload}")
        return _step(payload)

    def double_click(self, path: str, data: dict[str, str] | None = None) -> Step:
        """Two identical calls at once, as a nervous reader's double click sends them.

        One of the two may be refused (400: the card was used up by the other, which
        was declined): the page goes on with the answer that says what to do next.
        """
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda _: self.call(path, data), range(2)))
        steps = [_step(payload) for status, payload in answers if status == 200]
        if not steps or any(status not in (200, 400) for status, _ in answers):
            raise UnexpectedPage(f"POST {path} twice: {answers}")
        rank = {"succeeded": 0, "processing": 1, "requires_action": 2, "failed": 3}
        return min(steps, key=lambda s: rank.get(s.status, 4))


def _step(payload: dict) -> Step:
    return Step(
        payload.get("status", ""),
        payload.get("clientSecret"),
        bool(payload.get("anotherCard")),
        payload.get("error"),
    )


# --- Accounts (django-allauth) -------------------------------------------------------

PASSWORD = "correct horse battery staple 2026"  # every simulated reader's


def _link(text: str, prefix: str) -> str:
    found = re.search(re.escape(prefix) + r"[^\s\"'<>]+", text)
    if not found:
        raise UnexpectedPage(f"no {prefix} link in the email")
    return found.group(0)


def sign_up(browser: Browser, email: str, mail: Mailbox) -> None:
    """Sign up, then confirm the address from the emailed link (which signs the reader in)."""
    browser.page("/accounts/signup/")
    response = browser.form(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    if response.status_code != 302:
        raise UnexpectedPage(f"sign-up {email}: {response.status_code} {response.text[:300]}")
    (verification,) = mail.wait_for(email, "confirm", timeout=90)
    path = _link(verification.text, "/accounts/confirm-email/")
    browser.page(path)
    confirmed = browser.form(path, {})
    if confirmed.status_code != 302:
        raise UnexpectedPage(f"confirming {email}: {confirmed.status_code}")


def sign_in_by_code(browser: Browser, email: str, mail: Mailbox) -> None:
    """Ask for a sign-in code, read it from the email, type it in."""
    before = len(mail.to(email, "code"))
    browser.page("/accounts/login/code/")
    asked = browser.form("/accounts/login/code/", {"email": email})
    if asked.status_code != 302:
        raise UnexpectedPage(f"code for {email}: {asked.status_code} {asked.text[:300]}")
    message = mail.wait_for(email, "code", count=before + 1, timeout=90)[-1]
    code = re.search(r"^\s*([A-Z0-9]{3,5}-?[A-Z0-9]{3,5})\s*$", message.text, re.MULTILINE)
    if not code:
        raise UnexpectedPage(f"no code in {message.subject!r}")
    browser.page("/accounts/login/code/confirm/")
    done = browser.form("/accounts/login/code/confirm/", {"code": code.group(1)})
    if done.status_code != 302:
        raise UnexpectedPage(f"signing in {email} by code: {done.status_code}")


def sign_in(browser: Browser, email: str, password: str) -> None:
    browser.page("/accounts/login/")
    response = browser.form("/accounts/login/", {"login": email, "password": password})
    if response.status_code != 302:
        raise UnexpectedPage(f"sign-in {email}: {response.status_code} {response.text[:300]}")


def sign_out(browser: Browser) -> None:
    browser.page("/accounts/logout/")
    browser.form("/accounts/logout/", {})


def field_value(html: str, name: str) -> str:
    """The value a form field on the page holds (an input, hidden or not)."""
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    if not found:
        raise UnexpectedPage(f"no {name} field on the page")
    return unescape(found.group(1))
