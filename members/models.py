import secrets
import uuid
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from members.states import (
    GIFT_MONTHS,
    PERK_STATUSES,
    AnnouncedPhase,
    CancelReason,
    GiftStatus,
    Interval,
    MemberEvent,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from payments.currencies import currency_choices
from payments.models import Attribution

# Statuses of a paid membership that still has a live Stripe subscription.
OPEN_STATUSES = [
    MembershipStatus.INCOMPLETE,
    MembershipStatus.TRIALING,
    MembershipStatus.ACTIVE,
    MembershipStatus.PAST_DUE,
    MembershipStatus.UNPAID,
]


def new_claim_token() -> str:
    return secrets.token_urlsafe(32)


class UserManager(BaseUserManager["User"]):
    """Users are keyed by email; the same address in any casing is one person."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        return self.get(email=email.strip().lower())

    def _create_user(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A reader with an account: member, past donor or newsroom staff.

    Email is the identity. It is stored lower-case (a database constraint) and
    unique, so `Reader@Example.org` and `reader@example.org` can never be two
    accounts, whatever path created them.
    """

    email = models.EmailField("email address", max_length=254, unique=True)
    display_name = models.CharField(
        max_length=150, blank=True, help_text="How we greet this person in emails and receipts."
    )
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the newsroom's admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    on_supporters_wall = models.BooleanField(
        "on the supporters page",
        default=False,
        help_text="Chose to be listed by name on the public supporters page (/supporters/) "
        "while a member.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            # Unique + always lower-case = unique whatever the casing.
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="members_user_email_lowercase"
            ),
        ]
        # The admin list, newest first. Also, on PostgreSQL only: trigram indexes on
        # UPPER(email) and UPPER(display_name), for the admin's search by part of a name or
        # address (migration 0012).
        indexes = [models.Index(fields=["date_joined", "id"], name="members_user_joined")]
        # Data-protection requests handled by staff in admin (accounts and guest donors).
        permissions = [
            ("export_personal_data", "Can export everything held about a person"),
            ("erase_personal_data", "Can erase a person's personal data"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # Stored lower-case so lookups, Stripe customers and receipts agree.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        """The name emails greet them by: the one they gave, or "" ("Hello," alone, never
        the start of their address)."""
        return self.display_name.strip()


class MembershipLevel(models.Model):
    """A named membership tier ("Supporter", "Insider"...) and the perks it unlocks.

    Its suggested amounts per currency and interval are LevelAmounts. A reader
    who types their own amount gets the highest level that amount reaches.
    """

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True, help_text="The perks, one per line.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower shows first.")
    is_active = models.BooleanField(default=True, help_text="Offered on the join page.")
    no_donation_asks = models.BooleanField(
        default=False,
        help_text='Its members see no requests for money (the "No donation reminders" perk): '
        "the support block under articles only thanks them.",
    )
    shown_on_supporters_wall = models.BooleanField(
        "named on the supporters page",
        default=False,
        help_text="The supporters page (/supporters/) shows this level's name next to its "
        "members who chose to be listed.",
    )
    receipt_tax_note = models.TextField(
        "tax line on receipts",
        blank=True,
        help_text="What this level's receipts say for tax purposes, e.g. the fair value of "
        "goods its perks include. Empty: the default line (ORGANIZATION_TAX_NOTE).",
    )

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def perks(self) -> list[str]:
        return [line.strip() for line in self.description.splitlines() if line.strip()]


class LevelAmount(models.Model):
    """What a level costs in one currency and interval (a suggested amount on the join page)."""

    level = models.ForeignKey(MembershipLevel, on_delete=models.CASCADE, related_name="amounts")
    currency = models.CharField(max_length=3, choices=currency_choices)
    interval = models.CharField(max_length=5, choices=Interval.choices)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit (cents).")

    class Meta:
        ordering = ["currency", "interval", "amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "currency", "interval"], name="members_level_amount_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="members_level_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        from payments.money import Money

        return f"{Money(self.amount, self.currency)} / {self.interval}"


# Stripe's card brands, as a member reads them
CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


class Membership(Attribution):
    """Someone's membership: paid (a Stripe subscription), complimentary, or a gift.

    `status` only moves through members.states.MEMBERSHIP. For paid memberships
    it mirrors Stripe, applied from events no older than `stripe_synced_at`,
    so late or repeated events never overwrite newer state.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    email = models.EmailField(help_text="Whose membership it is (lower case).")
    donor = models.ForeignKey(
        "payments.Donor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memberships",
        help_text="Who pays (paid memberships).",
    )
    kind = models.CharField(max_length=10, choices=MembershipKind.choices)
    status = models.CharField(max_length=20, choices=MembershipStatus.choices)
    level = models.ForeignKey(
        MembershipLevel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.PositiveBigIntegerField(null=True, blank=True, help_text="Per interval.")
    currency = models.CharField(max_length=3, blank=True)
    interval = models.CharField(max_length=5, choices=Interval.choices, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The card-update form's SetupIntent (joining opens none: the join page's card is a
    # PaymentMethod our server confirms).
    stripe_setup_intent_id = models.CharField(max_length=255, blank=True)
    card_failures = models.PositiveSmallIntegerField(
        default=0,
        help_text="Failed card checks since the card form was last opened (join or card "
        "update); at DONATION_MAX_CARD_ATTEMPTS that start is closed.",
    )
    client_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="The address the card form was last opened from."
    )
    # The card renewals are charged to, as the member is shown it ("Visa ending 4242"):
    # the one they joined with or last put on the account page; blank if not known.
    card_brand = models.CharField(max_length=20, blank=True, default="")
    card_last4 = models.CharField("card's last four digits", max_length=4, blank=True, default="")
    card_payment_method_id = models.CharField(
        max_length=255, blank=True, default="", help_text="Stripe's id of that card."
    )
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Next charge.")
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_category = models.CharField(
        "why it was cancelled", max_length=20, choices=CancelReason.choices, blank=True
    )
    cancel_reason = models.CharField("in their words", max_length=500, blank=True)
    origin = models.CharField(
        max_length=10,
        choices=MembershipOrigin.choices,
        default=MembershipOrigin.SITE,
        help_text="Subscriptions created outside this site are kept but do not count in MRR.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Comp and gift memberships: when perks stop."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    stripe_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the newest Stripe state applied."
    )
    last_failed_invoice_id = models.CharField(max_length=255, blank=True)
    welcomed_at = models.DateTimeField(null=True, blank=True)
    ended_notice_at = models.DateTimeField(null=True, blank=True)
    cancel_notice_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the member was told their cancellation (cleared when they resume).",
    )
    # What the newsroom's webhooks last heard about it (members/services/member_webhooks.py)
    announced_phase = models.CharField(
        max_length=10, choices=AnnouncedPhase.choices, default=AnnouncedPhase.NONE, blank=True
    )
    announced_level = models.ForeignKey(
        MembershipLevel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, help_text="Why it was granted.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="members_membership_email_lowercase"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=MembershipKind.PAID)
                | (models.Q(amount__gt=0) & ~models.Q(currency="") & ~models.Q(interval="")),
                name="members_membership_paid_has_price",
            ),
            # One open paid membership per account: a double click cannot subscribe twice.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(kind=MembershipKind.PAID) & models.Q(status__in=OPEN_STATUSES),
                name="members_one_open_paid_membership",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"]),
            # Members counted and MRR per currency read the index alone (PostgreSQL)
            models.Index(
                fields=["kind", "status", "origin"],
                include=["id", "currency", "interval", "amount"],
                name="members_ms_kind_status_origin",
            ),
            models.Index(fields=["email"]),
            models.Index(fields=["created_at", "id"], name="members_ms_created"),
            # New members of a period, per bucket, article or campaign: from the index alone
            models.Index(
                fields=["kind", "origin", "starts_at"],
                include=["status", "article_slug", "campaign"],
                name="members_ms_started",
            ),
            models.Index(
                fields=["ended_at"],
                condition=models.Q(status=MembershipStatus.CANCELED),
                name="members_ms_churned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} membership of {self.email} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def money(self):
        from payments.money import Money

        return Money(self.amount, self.currency) if self.amount else None

    @property
    def card(self) -> str:
        """ "Visa ending 4242"; blank when the card is not known."""
        if not self.card_last4:
            return ""
        brand = CARD_BRANDS.get(self.card_brand, self.card_brand.title() or "Card")
        return f"{brand} ending {self.card_last4}"

    @property
    def has_perks(self) -> bool:
        return self.status in PERK_STATUSES and (
            self.ends_at is None or self.ends_at > timezone.now()
        )

    @property
    def is_subscription(self) -> bool:
        """A paid membership: a Stripe subscription (not complimentary, not a gift)."""
        return self.kind == MembershipKind.PAID

    @property
    def is_past_due(self) -> bool:
        """A renewal failed and is still owed, whether Stripe is retrying it or has stopped."""
        return self.status in (MembershipStatus.PAST_DUE, MembershipStatus.UNPAID)


class GiftMembership(Attribution):
    """A membership bought for someone else: paid once, claimed by the recipient.

    The payment runs through a one-time Donation (kind "gift"), so it shares the
    card flow, the ledger and the receipt with one-time gifts.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    donation = models.OneToOneField(
        "payments.Donation", on_delete=models.PROTECT, related_name="gift_membership"
    )
    giver_name = models.CharField(max_length=200, blank=True)
    recipient_email = models.EmailField()
    recipient_name = models.CharField(max_length=200, blank=True)
    message = models.TextField(max_length=1000, blank=True)
    months = models.PositiveSmallIntegerField()
    send_on = models.DateField(help_text="When the recipient gets the email.")
    status = models.CharField(
        max_length=20, choices=GiftStatus.choices, default=GiftStatus.AWAITING_PAYMENT
    )
    claim_token = models.CharField(max_length=64, unique=True, default=new_claim_token)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    membership = models.OneToOneField(
        Membership, null=True, blank=True, on_delete=models.PROTECT, related_name="gift"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(months__in=GIFT_MONTHS), name="members_gift_months_offered"
            ),
            models.CheckConstraint(
                condition=models.Q(recipient_email=Lower("recipient_email")),
                name="members_gift_recipient_lowercase",
            ),
        ]
        indexes = [models.Index(fields=["created_at", "id"], name="members_gift_created")]

    def __str__(self) -> str:
        return f"{self.months}-month gift for {self.recipient_email} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        self.recipient_email = self.recipient_email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_paid(self) -> bool:
        """The giver's payment went through (the gift may be waiting, sent or claimed)."""
        return self.status in (GiftStatus.PAID, GiftStatus.SENT, GiftStatus.CLAIMED)

    @property
    def is_claimed(self) -> bool:
        return self.status == GiftStatus.CLAIMED


# --- Newsletters -------------------------------------------------------------------------


class Newsletter(models.Model):
    """A list readers choose on their account page; the mailing tool gets it as CSV.

    A members-only newsletter is offered to members only, and a member who loses their
    perks (the membership lapses or ends) is dropped from it.
    """

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True, help_text="Shown on the account page.")
    members_only = models.BooleanField(
        default=False,
        help_text="Offered to members only; readers who stop being members leave it.",
    )
    is_active = models.BooleanField(default=True, help_text="Offered on the account page.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower shows first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        permissions = [
            ("export_subscribers", "Can export a newsletter's subscribers (CSV)"),
        ]

    def __str__(self) -> str:
        return self.name


class NewsletterSubscription(models.Model):
    """A reader on a newsletter's list, since `subscribed_at`."""

    newsletter = models.ForeignKey(
        Newsletter, on_delete=models.CASCADE, related_name="subscriptions"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="newsletter_subscriptions"
    )
    subscribed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["subscribed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["newsletter", "user"], name="members_one_subscription_per_newsletter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.newsletter}"


# --- Member webhooks out -----------------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def is_webhook_url(url: str) -> bool:
    """An absolute http(s) address with a host, with no spaces or control characters."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    # Lower-case schemes only, as the database's check constraint has them
    return url.startswith(("http://", "https://")) and bool(host)


def validate_webhook_url(url: str) -> None:
    # Not Django's URLValidator: it refuses hosts with no dot (e.g. http://cms:8080/ on
    # the newsroom's own network).
    if not is_webhook_url(url):
        raise ValidationError("Enter an http:// or https:// address.", code="invalid")


class WebhookEndpoint(models.Model):
    """An address of the newsroom's own systems (its CMS, its mailing tool) that receives
    a signed JSON POST when a membership starts, changes level, lapses or ends.

    The signing secret is shown once, when the endpoint is added (or its secret rolled).
    """

    url = models.CharField(
        "URL",
        max_length=500,
        validators=[validate_webhook_url],
        help_text="An http:// or https:// address. Redirects are not followed.",
    )
    description = models.CharField(max_length=200, blank=True, help_text="What listens there.")
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    is_active = models.BooleanField(default=True, help_text="Receives new events.")
    created_at = models.DateTimeField(auto_now_add=True)
    secret_rolled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "member webhook endpoint"
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(url__startswith="http://")
                | models.Q(url__startswith="https://"),
                name="members_webhook_endpoint_http_url",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart, never enough to sign with."""
        return f"{self.secret[:10]}…" if self.secret else ""


class WebhookDelivery(models.Model):
    """One event for one endpoint: the JSON body sent (the same at every attempt, so its
    `id` lets the receiver ignore a repeat) and how the attempts went.

    Pending until delivered (a 2xx answer) or given up (MEMBER_WEBHOOK_MAX_ATTEMPTS
    failed, or an address that is not http(s)); `next_attempt_at` is when the beat sweep
    may try it again.
    """

    event_id = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    event_type = models.CharField(max_length=40, choices=MemberEvent.choices)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(help_text="The event, as sent in the request's body.")
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-pk"]
        constraints = [
            # The same event is delivered once per endpoint, whatever retries it takes.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="members_one_delivery_per_event"
            ),
            models.CheckConstraint(
                condition=models.Q(delivered_at__isnull=True) | models.Q(gave_up_at__isnull=True),
                name="members_delivery_delivered_or_given_up",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "created_at"]),
            # The admin's log, newest first
            models.Index(fields=["created_at", "id"], name="members_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} to {self.endpoint}"

    @property
    def is_pending(self) -> bool:
        return self.delivered_at is None and self.gave_up_at is None
