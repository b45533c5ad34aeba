"""Patronage settings: one module, every knob from the environment.

Read it top to bottom. Each value comes from an environment variable with a
default that suits a first run on a laptop (SQLite, tasks run eagerly, email
printed to the console). `.env.example` lists every variable for production.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    return str(env(name, default)).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: str) -> int:
    return int(str(env(name, default)))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in str(env(name, default)).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

# Development default: on. Production must set DEBUG=0 (and then SECRET_KEY).
DEBUG = envbool("DEBUG", "1")

SECRET_KEY = env("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off it is required: set SECRET_KEY to a long "
            "random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

# Public address of this site, used in emails and Stripe return URLs (no trailing slash)
SITE_URL = str(env("SITE_URL", "http://127.0.0.1:8000")).rstrip("/")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", f"{urlsplit(SITE_URL).hostname},localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "config.apps.PatronageAdminConfig",  # Django's admin with the revenue dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "corsheaders",
    "ninja",
    "allauth",
    "allauth.account",
    "members",
    "payments",
    "content",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # CORS headers for /api/ only, before anything that may answer (CORS_URLS_REGEX below)
    "corsheaders.middleware.CorsMiddleware",
    "config.middleware.refuse_invalid_utf8",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.organization",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

# Local state of a development run (SQLite file, queued tasks, collected static)
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

# e.g. postgres://user:password@host:5432/patronage; default: a SQLite file in var/
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=envint("DB_CONN_MAX_AGE", "60"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Tests on SQLite use a file, not memory: webhooks reach the live test
    # server on several threads at once, each needing its own connection. One
    # file per test process (its pid; pytest-xdist adds `_gw0`...), so two runs
    # side by side never share one. The test runner deletes it when it ends.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # The admin's covering indexes (INCLUDE columns) are PostgreSQL's; SQLite builds them
    # without the extra columns, which only makes them less fast.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# PostgreSQL: milliseconds a statement waits for a lock (a row another request or task
# holds) before it fails, so a stuck lock fails fast instead of hanging a worker; the
# task is then retried. Rows are locked only for their state change, never while
# Stripe is asked (payments/services/__init__.py). 0 waits for ever.
DB_LOCK_TIMEOUT_MS = envint("DB_LOCK_TIMEOUT_MS", "10000")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = " ".join(
        filter(None, [_db_options.get("options"), f"-c lock_timeout={DB_LOCK_TIMEOUT_MS}"])
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits live here, so production needs a shared one) --------

# redis://127.0.0.1:6379/1 in production; default: this process's memory
CACHE_URL = env("CACHE_URL", "locmem://")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        # Django's Redis cache, with one client kept per pool (config/cache.py)
        "default": {"BACKEND": "config.cache.RedisCacheReusingClients", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts (django-allauth) ----------------------------------------------

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "members:account"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "members.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# The code form takes its address from the link (?email=), as the welcome email gives it
ACCOUNT_FORMS = {"request_login_code": "members.forms.RequestLoginCodeForm"}
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# Signing up with an address that already has an account sends that address a
# notice instead of revealing the account exists.
ACCOUNT_PREVENT_ENUMERATION = True
# allauth's own rate limits (failed logins, sign-ups, login codes, password
# resets) stay on with their defaults; they count in the cache above.

# --- Email ------------------------------------------------------------------


def email_settings(url: str) -> dict[str, object]:
    """Translate EMAIL_URL into Django's EMAIL_* settings.

    console:            print to stdout (default)
    file:///path/dir    write each message to a file in that folder
    locmem:             keep in memory (tests)
    smtp://user:pass@host:587?tls=1   or   smtps://user:pass@host:465
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": unquote(parts.path),
        }
    if scheme in {"smtp", "smtps"}:
        query = parse_qs(parts.query)
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname or "localhost",
            "EMAIL_PORT": parts.port or (465 if scheme == "smtps" else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_SSL": scheme == "smtps",
            "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in {"1", "true", "yes"},
            "EMAIL_TIMEOUT": 20,
        }
    raise ImproperlyConfigured(f"EMAIL_URL scheme {scheme!r} is not one of console, file, smtp.")


EMAIL_URL = str(env("EMAIL_URL", "console:"))
globals().update(email_settings(EMAIL_URL))
if DEBUG and urlsplit(EMAIL_URL).scheme == "console":
    # Development: each email as a block of sender, recipients, subject and text
    EMAIL_BACKEND = "config.dev_email.EmailBackend"
# Sender of every email the site sends
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Patronage Newsroom <support@example.org>")
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# --- The organisation (shown on pages, emails and receipts) -----------------

ORGANIZATION_NAME = env("ORGANIZATION_NAME", "Patronage Newsroom")
# Postal address and registration printed on receipts for tax purposes
ORGANIZATION_ADDRESS = env("ORGANIZATION_ADDRESS", "1 Example Street, Springfield")
ORGANIZATION_TAX_NOTE = env(
    "ORGANIZATION_TAX_NOTE",
    "No goods or services were provided in exchange for this contribution.",
)
ORGANIZATION_SUPPORT_EMAIL = env("ORGANIZATION_SUPPORT_EMAIL", "support@example.org")
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{ORGANIZATION_NAME}] "
# The newsroom's own website: "Back to the news" goes there when the reader came from no
# known article (empty: this site's home page)
ORGANIZATION_WEBSITE = str(env("ORGANIZATION_WEBSITE", "")).rstrip("/")
# Logo in the site header and emails: a full https:// address, or a path under static/
# (e.g. img/logo.svg); empty: the name alone
ORGANIZATION_LOGO = str(env("ORGANIZATION_LOGO", ""))
# Colours, as #rrggbb (checked at start-up; config/branding.py): buttons and links; the
# text on them (keep a 4.5:1 contrast with BRAND_COLOR); highlights (kickers, the support
# block's rule, the campaign meter). Pages get them from /brand.css
BRAND_COLOR = str(env("BRAND_COLOR", "#0b5cad"))
BRAND_CONTRAST_COLOR = str(env("BRAND_CONTRAST_COLOR", "#ffffff"))
BRAND_ACCENT_COLOR = str(env("BRAND_ACCENT_COLOR", "#0b5cad"))


@checks.register()
def check_brand_colours(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A colour setting that is not #rrggbb fails `check`, `migrate`, `runserver`."""
    from config.branding import colour_problems

    return [checks.Error(problem, id="patronage.E002") for problem in colour_problems()]


# --- Money ------------------------------------------------------------------

# Currencies offered to readers, first one is the default. Each entry is
# CODE:MIN:MAX in the currency's minor unit (cents; yen for zero-decimal JPY).
PATRONAGE_CURRENCIES = str(
    env("PATRONAGE_CURRENCIES", "USD:100:1000000,EUR:100:1000000,GBP:100:1000000,UAH:4000:40000000")
)

# "Cover the card fees" adds this to a gift: a share in basis points (290 =
# 2.9%) plus a fixed part per currency in minor units.
DONATION_FEE_BPS = envint("DONATION_FEE_BPS", "290")
DONATION_FEE_FIXED = str(env("DONATION_FEE_FIXED", "USD:30,EUR:25,GBP:20,UAH:1000"))

# What a member's change of amount or interval does with the period already paid for.
# "create_prorations": its unused part is credited; a new amount settles the difference
# with the next payment, and a monthly/yearly switch starts the new period today,
# charging the new price less the credit. "none": no credit; a new amount applies from
# the next payment, and a switch charges the full new price today.
MEMBERSHIP_PRORATION = str(env("MEMBERSHIP_PRORATION", "create_prorations"))
if MEMBERSHIP_PRORATION not in ("create_prorations", "none"):
    raise ImproperlyConfigured("MEMBERSHIP_PRORATION is create_prorations or none.")

# Card-testing defence: gifts started per client IP (an IPv6 address's /64) and per
# email address, as COUNT/PERIOD with s, m, h or d (e.g. 10/10m). Checked before Stripe is called.
DONATION_RATE_PER_IP = str(env("DONATION_RATE_PER_IP", "10/10m"))
DONATION_RATE_PER_EMAIL = str(env("DONATION_RATE_PER_EMAIL", "5/h"))
# Failed card checks one start (a gift, a gift membership, a membership's card
# form) may have before it is closed at Stripe and the reader must start again
DONATION_MAX_CARD_ATTEMPTS = envint("DONATION_MAX_CARD_ATTEMPTS", "3")
# Optional extra check (a CAPTCHA, say) before a gift starts, and the way past a
# card-testing block: dotted path to a function (request) -> bool. Empty: no check
# beyond the rate limits, and a blocked source waits for its block to end.
DONATION_CHALLENGE = str(env("DONATION_CHALLENGE", ""))
# Card testing (payments/card_testing.py): failed card checks (declined at setup or
# payment) counted per client address, per email (a member: per account) and per
# card, as COUNT/PERIOD; the COUNT-th in PERIOD blocks that source's new gifts,
# memberships and card updates for CARD_BLOCK_SECONDS (0/h: never block it).
CARD_FAILURES_PER_IP = str(env("CARD_FAILURES_PER_IP", "10/h"))
CARD_FAILURES_PER_EMAIL = str(env("CARD_FAILURES_PER_EMAIL", "5/h"))
CARD_FAILURES_PER_CARD = str(env("CARD_FAILURES_PER_CARD", "5/h"))
CARD_BLOCK_SECONDS = envint("CARD_BLOCK_SECONDS", "3600")
# Proxies in front of the site that append to X-Forwarded-For (0: use the
# connection's address). Rate limits count per real client address.
NUM_PROXIES = envint("NUM_PROXIES", "0")
# allauth's limits (sign-ups, sign-ins, codes) count per real client address too,
# not per proxy (which would make them one limit for every reader at once).
ALLAUTH_TRUSTED_PROXY_COUNT = NUM_PROXIES

# --- Stripe -----------------------------------------------------------------

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "sk_test_patronage_local")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", "pk_test_patronage_local")
# Signing secret of the webhook endpoint (whsec_...), from Stripe's dashboard
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "whsec_patronage_local")
# Seconds a webhook timestamp may lag before its signature is refused
STRIPE_WEBHOOK_TOLERANCE = envint("STRIPE_WEBHOOK_TOLERANCE", "300")
# Empty for the real Stripe API; http://127.0.0.1:8420 to use a local localstripe
STRIPE_API_BASE = env("STRIPE_API_BASE", "")
# Where the browser loads Stripe.js from (localstripe serves a fake one offline)
STRIPE_JS_URL = env(
    "STRIPE_JS_URL",
    f"{STRIPE_API_BASE}/js.stripe.com/v3/" if STRIPE_API_BASE else "https://js.stripe.com/v3/",
)
# The Stripe API version every request is made with, and that the webhook
# endpoint must be created with (`manage.py create_stripe_webhook`). Not an
# environment variable: the code reads objects in this version's shape, so it
# changes with the code (and with the `stripe` library, whose typed parameters
# describe it). Events in another version are flagged in admin.
STRIPE_API_VERSION = "2026-10-28.endive"
# Seconds each try of a Stripe API call waits for an answer, and how many times a call
# is retried (network errors, 409 and 5xx answers; writes keep their idempotency key).
# A whole call, retries and backoff included (stripe_call_budget), must end before a
# Celery task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT below): checked below.
STRIPE_TIMEOUT = envint("STRIPE_TIMEOUT", "15")
STRIPE_MAX_NETWORK_RETRIES = envint("STRIPE_MAX_NETWORK_RETRIES", "2")
# The stripe library's backoff between tries: 0.5 s doubling, at most 5 s
# (stripe.HTTPClient.INITIAL_DELAY / MAX_DELAY; tests/test_stripe_time_budget.py checks).
STRIPE_RETRY_INITIAL_DELAY = 0.5
STRIPE_RETRY_MAX_DELAY = 5.0


def stripe_call_budget(timeout: float, retries: int) -> float:
    """The longest one Stripe call can take: every try waits `timeout`, and the library
    sleeps between tries (at most its backoff, never less than the initial delay)."""
    backoff = sum(
        max(
            STRIPE_RETRY_INITIAL_DELAY,
            min(STRIPE_RETRY_INITIAL_DELAY * 2**n, STRIPE_RETRY_MAX_DELAY),
        )
        for n in range(retries)
    )
    return timeout * (retries + 1) + backoff


def stripe_call_budget_problem(
    timeout: float, retries: int, soft_time_limit: float | None
) -> str | None:
    """What is wrong when one Stripe call could outlive a task's soft time limit (the
    task would be interrupted mid-call, and retried, however the call went), or None."""
    if not soft_time_limit:
        return None  # no time limit
    budget = stripe_call_budget(timeout, retries)
    if budget < soft_time_limit:
        return None
    return (
        f"One Stripe call may take {budget:g} s (STRIPE_TIMEOUT={timeout:g} s x "
        f"{retries + 1} tries with STRIPE_MAX_NETWORK_RETRIES={retries}, plus backoff), "
        f"not less than CELERY_TASK_SOFT_TIME_LIMIT={soft_time_limit:g} s. Lower "
        "STRIPE_TIMEOUT or STRIPE_MAX_NETWORK_RETRIES, or raise the time limit."
    )


@checks.register()
def check_stripe_call_budget(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The system check (`manage.py check`, `migrate`, `runserver`) of the settings in force."""
    from django.conf import settings

    problem = stripe_call_budget_problem(
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.CELERY_TASK_SOFT_TIME_LIMIT,
    )
    return [checks.Error(problem, id="patronage.E001")] if problem else []


# --- Articles (content/) -------------------------------------------------------

# Bearer token the newsroom's CMS sends to POST /articles/import (`Authorization: Bearer
# <token>`), a long random string; empty: only signed-in staff may import
CONTENT_IMPORT_TOKEN = str(env("CONTENT_IMPORT_TOKEN", ""))
# Origins that images in articles load from (e.g. https://cdn.news.example.org), added to
# the article page's Content-Security-Policy img-src; empty: this site's own images only
CONTENT_IMAGE_ORIGINS = envlist("CONTENT_IMAGE_ORIGINS", "")

# Seconds the running campaign's meter stays cached at most; a counted gift or
# membership, or an edit in admin, drops it at once (content/support.py)
CAMPAIGN_CACHE_SECONDS = envint("CAMPAIGN_CACHE_SECONDS", "300")

# --- Support-block API and embed (content/api.py, static/js/embed.js) -------------

# Origins of the publisher's sites (scheme://host[:port], comma-separated, e.g.
# https://news.example.org) whose pages may call /api/ from the browser (CORS) and be
# named in a reader token; empty: only pages on this site
SUPPORT_API_ALLOWED_ORIGINS = envlist("SUPPORT_API_ALLOWED_ORIGINS", "")
# Seconds browsers and shared caches may keep an anonymous support block (max-age)
SUPPORT_API_MAX_AGE = envint("SUPPORT_API_MAX_AGE", "60")
# Seconds this server keeps an anonymous support block in the cache; a change to an
# article or a campaign's counters (invalidate_support_cache) drops it sooner
SUPPORT_API_CACHE_SECONDS = envint("SUPPORT_API_CACHE_SECONDS", "60")
# Seconds each server process also keeps an anonymous support block (and the article a
# member's block shows) in its own memory, no round trip to the cache; a change is seen
# at once by the process that made it, by the others within this time; 0: not kept
SUPPORT_API_LOCAL_SECONDS = envint("SUPPORT_API_LOCAL_SECONDS", "1")
# Seconds a reader token (POST /api/reader-token, for a page on another origin) is valid
READER_TOKEN_SECONDS = envint("READER_TOKEN_SECONDS", "3600")
# django-cors-headers: only the API answers cross-origin requests, only to those origins;
# credentials too, so a publisher on a sibling subdomain can send the reader's session
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOWED_ORIGINS = SUPPORT_API_ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["GET", "OPTIONS", "POST"]
CORS_EXPOSE_HEADERS = ["ETag"]

# --- Member webhooks, newsletters, the supporters page (members/) -----------------

# Member webhooks (members/services/member_webhooks.py): seconds a receiver has to connect
# and to answer each try; tries before a delivery is given up; seconds before the second
# try, doubling after each failure (60: 1 min, 2, 4 ... about 8.5 hours for 10 tries);
# days the delivery log keeps delivered and given-up deliveries (their bodies name members)
MEMBER_WEBHOOK_TIMEOUT = envint("MEMBER_WEBHOOK_TIMEOUT", "5")
MEMBER_WEBHOOK_MAX_ATTEMPTS = envint("MEMBER_WEBHOOK_MAX_ATTEMPTS", "10")
MEMBER_WEBHOOK_RETRY_SECONDS = envint("MEMBER_WEBHOOK_RETRY_SECONDS", "60")
MEMBER_WEBHOOK_LOG_DAYS = envint("MEMBER_WEBHOOK_LOG_DAYS", "90")
# Names per page of the public supporters page (/supporters/)
SUPPORTERS_PER_PAGE = envint("SUPPORTERS_PER_PAGE", "200")

# --- Content-Security-Policy ---------------------------------------------------

# Scripts and styles from this site and Stripe.js only: no inline script or style
# anywhere, so injected markup cannot run. Stripe.js needs its frames and API.
_STRIPE_JS_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_JS_URL))
if STRIPE_API_BASE:  # the emulator serves Stripe.js and the API from one origin
    _STRIPE_SCRIPTS = _STRIPE_FRAMES = _STRIPE_CONNECT = [_STRIPE_JS_ORIGIN]
else:  # https://docs.stripe.com/security/guide#content-security-policy
    _STRIPE_SCRIPTS = [_STRIPE_JS_ORIGIN, "https://*.js.stripe.com"]
    _STRIPE_FRAMES = [*_STRIPE_SCRIPTS, "https://hooks.stripe.com"]
    _STRIPE_CONNECT = ["https://api.stripe.com"]
# A logo at a full address (ORGANIZATION_LOGO) loads from its own origin
_LOGO_ORIGIN = (
    ["{0.scheme}://{0.netloc}".format(urlsplit(ORGANIZATION_LOGO))]
    if ORGANIZATION_LOGO.startswith(("https://", "http://"))
    else []
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *_STRIPE_SCRIPTS],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_LOGO_ORIGIN],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *_STRIPE_CONNECT],
        "frame-src": _STRIPE_FRAMES,
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- Celery -----------------------------------------------------------------

# redis://127.0.0.1:6379/0 in production. Unset: tasks run eagerly, in the
# web process (zero set-up first run). `filesystem://` runs a real worker with
# no server, through files in var/celery (used by `make run`).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Redis redelivers an unacknowledged task after this many seconds; it must be
# longer than the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),  # default: control/ in the cwd
        "store_processed": False,
    }
    for _folder in (_queue_dir, _queue_dir / "processed", _queue_dir / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it ran, so a killed worker's task runs again
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each process reserves one task at a time: a slow or killed one holds back no other.
# (The broker's round trip is not what limits events: a no-op task runs 25-35 times
# faster than an event here; the database's commits and the ORM's CPU are.)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task
# unless told to keep it for this many tasks: a new PostgreSQL connection (and server
# process) per task, measured here at about 5 ms of the worker's CPU per Stripe event and
# its receipt (18.6 ms -> 13.1 ms). config/celery.py checks the connection before each
# task as Django does before each request (CONN_MAX_AGE, health check, broken ones closed).
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", "1000")
# Emails (receipts, refund notices, membership and account emails) go to a queue of
# their own, taken by a worker of its own (`celery -A config worker -Q emails`, the
# Procfile's `emails`), so a backlog of Stripe events (a news spike: thousands queued)
# never holds a receipt or a sign-in code, and a slow mail server never holds events.
# Everything else goes to the default queue, "celery". CELERY_EMAIL_QUEUE renames it.
CELERY_EMAIL_QUEUE = env("CELERY_EMAIL_QUEUE", "emails")
CELERY_TASK_ROUTES = {
    task: {"queue": CELERY_EMAIL_QUEUE}
    for task in (
        "payments.tasks.send_receipt",
        "payments.tasks.send_refund_notice",
        "members.tasks.deliver_email",
        "members.tasks.send_membership_email",
        "members.tasks.send_cancel_notice",
        "members.tasks.send_gift_email",
    )
}
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "60")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "90")
# A Stripe call that could outlive the task: production (DEBUG off) refuses to start, web
# and worker alike; elsewhere the system check above fails `check`, `migrate`, `runserver`.
_STRIPE_BUDGET_PROBLEM = stripe_call_budget_problem(
    STRIPE_TIMEOUT, STRIPE_MAX_NETWORK_RETRIES, CELERY_TASK_SOFT_TIME_LIMIT
)
if _STRIPE_BUDGET_PROBLEM and not DEBUG:
    raise ImproperlyConfigured(_STRIPE_BUDGET_PROBLEM)
if not DEBUG:  # production refuses to start with a mistyped colour (web and worker alike)
    from config.branding import colour_problems

    _BRAND_PROBLEMS = colour_problems(
        {
            "BRAND_COLOR": BRAND_COLOR,
            "BRAND_CONTRAST_COLOR": BRAND_CONTRAST_COLOR,
            "BRAND_ACCENT_COLOR": BRAND_ACCENT_COLOR,
        }
    )
    if _BRAND_PROBLEMS:
        raise ImproperlyConfigured(" ".join(_BRAND_PROBLEMS))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic tasks (run `celery -A config beat`).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Enqueue stored Stripe events still pending a minute after they arrived (never
    # enqueued: the broker was down or slow; or their task lost). The row is the truth.
    "enqueue-pending-stripe-events": {
        "task": "payments.tasks.enqueue_pending_stripe_events",
        "schedule": 30,
    },
    # Fetch Stripe events that never arrived by webhook.
    "reconcile-stripe-events": {
        "task": "payments.tasks.reconcile_stripe_events",
        "schedule": envint("RECONCILE_EVERY_SECONDS", "900"),
    },
    # Send receipts and refund notices still unsent a few minutes after they were due.
    "send-unsent-emails": {
        "task": "payments.tasks.send_unsent_emails",
        "schedule": 300,
    },
    # End comp and gift memberships whose time is up.
    "end-expired-memberships": {
        "task": "members.tasks.end_expired_memberships",
        "schedule": 3600,
    },
    # Email paid gift memberships to their recipients on the day the giver chose.
    "send-due-gifts": {
        "task": "members.tasks.send_due_gifts",
        "schedule": 3600,
    },
    # Member webhooks: send again deliveries whose next try is due (backoff, lost tasks);
    # delete finished ones older than MEMBER_WEBHOOK_LOG_DAYS.
    "sweep-member-webhooks": {
        "task": "members.tasks.sweep_member_webhooks",
        "schedule": 60,
    },
    # Delete what we no longer need (see RETENTION_* below): old raw Stripe events,
    # gifts started and never paid...
    "apply-retention": {
        "task": "payments.tasks.apply_retention",
        "schedule": 86400,
    },
    # ...and joins started and never paid.
    "apply-member-retention": {
        "task": "members.tasks.apply_retention",
        "schedule": 86400,
    },
}

# --- Data protection: how long we keep what we no longer need ---------------

# Days a raw Stripe event we ignored (a type we do not handle, not ours) is kept
RETENTION_IGNORED_EVENTS_DAYS = envint("RETENTION_IGNORED_EVENTS_DAYS", "30")
# Days a processed raw Stripe event is kept (the ledger keeps the facts for good).
# Both event periods are at least 30 days: Stripe lists events that long, and
# reconciliation would fetch a deleted one again.
RETENTION_PROCESSED_EVENTS_DAYS = envint("RETENTION_PROCESSED_EVENTS_DAYS", "400")
# Days a gift started but never paid (no ledger row) is kept, with its name and email
RETENTION_UNPAID_GIFTS_DAYS = envint("RETENTION_UNPAID_GIFTS_DAYS", "30")
# Days a join started and never paid (no first payment, so never a member) is kept,
# with its email and address; at least 30, as for events
RETENTION_UNPAID_MEMBERSHIPS_DAYS = envint("RETENTION_UNPAID_MEMBERSHIPS_DAYS", "30")

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security (all on when DEBUG is off) ------------------------------------

# Sessions read from the cache, written through to the database: a signed-in reader's
# request costs no session query (the support-block API, every article view).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(not DEBUG))
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto
if envbool("SECURE_PROXY_SSL_HEADER", "0"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "1")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "1")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz answers over plain HTTP to the load balancer
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The Stripe library's DEBUG lines carry request and response bodies
        # (donors' emails and names), and its INFO lines (two per call) cost 7% of a
        # call's CPU and repeat what the gateway logs on failure: warnings and errors only.
        "stripe": {"level": "WARNING"},
    },
}
