"""Payments data: donors, one-time donations, the ledger, refunds, disputes, the webhook inbox.

Amounts are integers in the currency's minor unit with an ISO 4217 code.
Invariants that must never break (one donor per email, one ledger row per
charge, refunds never above the charge) are database constraints, not hopes.
Statuses and their allowed moves live in `payments/states.py`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from payments.currencies import currency_choices
from payments.money import Money
from payments.states import (
    CLOSED_DISPUTE_STATUSES,
    DisputeStatus,
    DonationStatus,
    EventStatus,
    PaymentKind,
    RefundStatus,
)


class SuggestedAmount(models.Model):
    """A one-click amount on the "Support us just once" page, per currency.

    Staff edit these in admin; readers may always type their own amount too.
    """

    currency = models.CharField(max_length=3, choices=currency_choices)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit (cents).")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower shows first.")
    is_default = models.BooleanField(default=False, help_text="Preselected on the page.")

    class Meta:
        ordering = ["currency", "position", "amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "amount"], name="payments_suggested_amount_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payments_suggested_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return Money(self.amount, self.currency).format()


class Donor(models.Model):
    """One person who pays, keyed by email: guests and members alike.

    A guest's gifts are found again when they later open an account with the
    same (verified) address: the donor is linked to that user.
    """

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="donors",
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Also, on PostgreSQL only: trigram indexes on UPPER(email) and UPPER(name), for
        # the admin's search by part of a name or address (migration 0013).
        constraints = [
            # Unique + always lower-case = one donor whatever the casing.
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="payments_donor_email_lowercase"
            ),
            models.CheckConstraint(
                condition=~Q(stripe_customer_id=""), name="payments_donor_customer_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class Attribution(models.Model):
    """Where money came from: the article, a campaign, the UTM parameters, and the page
    that sent the reader.

    The article is kept by its slug, as the reader's link gave it (`?from=<slug>`),
    even when no article has that slug (yet): payments never depends on content.
    `referrer` is the page's address, from `?ref=` or the browser's Referer header when
    the give, join or gift page was opened (http or https only; anything else is dropped
    by `payments.forms.valid_referrer`).
    """

    article_slug = models.SlugField("article", max_length=200, blank=True, db_index=True)
    campaign = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    utm_content = models.CharField(max_length=100, blank=True)
    utm_term = models.CharField(max_length=100, blank=True)
    referrer = models.CharField(
        "referring page",
        max_length=500,
        blank=True,
        help_text="The page the reader came from (an http or https address).",
    )

    # The link's tracking and the page the reader came from: shown on detail pages,
    # left unread by admin lists (`list_defer`).
    LINK_FIELDS = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "referrer",
    ]
    ATTRIBUTION_FIELDS = ["article_slug", "campaign", *LINK_FIELDS]

    class Meta:
        abstract = True

    def attribution(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.ATTRIBUTION_FIELDS}


class Donation(Attribution):
    """A reader's one-time gift, from the form until the money is taken (or not).

    The ledger row (`Payment`) is written from Stripe's `payment_intent.succeeded`
    event, never from the reader's browser.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="donations")
    name = models.CharField(max_length=200, blank=True, help_text="The name given with this gift.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="donations",
        help_text="Who was signed in when giving, if anyone.",
    )
    kind = models.CharField(
        max_length=20,
        choices=[(PaymentKind.ONE_TIME, "One-time"), (PaymentKind.GIFT, "Gift membership")],
        default=PaymentKind.ONE_TIME,
    )
    amount = models.PositiveBigIntegerField(help_text="The gift, in minor units.")
    fee_cover = models.PositiveBigIntegerField(
        default=0, help_text="Added by the reader to cover card fees, in minor units."
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=DonationStatus.choices, default=DonationStatus.AWAITING_CARD
    )
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="PaymentIntents tried, one per card."
    )
    card_failures = models.PositiveSmallIntegerField(
        default=0,
        help_text="Failed card checks (declined at setup or payment); at "
        "DONATION_MAX_CARD_ATTEMPTS the gift is closed and the reader starts again.",
    )
    client_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="The address the gift was started from (card testing)."
    )
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_donation_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            # The admin list, newest first
            models.Index(fields=["created_at", "id"], name="payments_donation_created"),
        ]

    def __str__(self) -> str:
        """`$15.00 one-time gift (Succeeded)`: no query (admin shows it beside a payment)."""
        what = "gift membership" if self.kind == PaymentKind.GIFT else "one-time gift"
        return f"{self.total} {what} ({self.get_status_display()})"

    @property
    def total(self) -> Money:
        """What the card is charged: the gift plus any fee cover."""
        return Money(self.amount + self.fee_cover, self.currency)

    @property
    def is_settled(self) -> bool:
        """The money is taken, or Stripe is settling it: the giver can be thanked."""
        return self.status in (DonationStatus.SUCCEEDED, DonationStatus.PROCESSING)

    @property
    def needs_authentication(self) -> bool:
        """The bank asked for 3-D Secure, which the giver has not completed yet."""
        return self.status == DonationStatus.REQUIRES_ACTION


class Payment(Attribution):
    """The ledger: one row per successful charge, refunds recorded against it.

    Read-only in admin; only Stripe events (through services) write here.
    """

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="payments")
    donor_name = models.CharField(
        max_length=200, blank=True, help_text="The name given with this payment, for its receipt."
    )
    kind = models.CharField(max_length=20, choices=PaymentKind.choices)
    amount = models.PositiveBigIntegerField(help_text="Charged, in minor units.")
    currency = models.CharField(max_length=3)
    fee = models.BigIntegerField(null=True, blank=True, help_text="Stripe's fee, when known.")
    net = models.BigIntegerField(null=True, blank=True, help_text="Amount less fee, when known.")
    amount_refunded = models.PositiveBigIntegerField(default=0)
    donation = models.OneToOneField(
        Donation, null=True, blank=True, on_delete=models.PROTECT, related_name="payment"
    )
    # A card payment has a charge (and, but for old invoices, a PaymentIntent); an
    # invoice marked paid outside Stripe (cheque, transfer) has only its invoice.
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_charge_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_invoice_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    paid_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_payment_positive"),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount")),
                name="payments_payment_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=~Q(stripe_payment_intent_id="")
                & ~Q(stripe_charge_id="")
                & ~Q(stripe_invoice_id=""),
                name="payments_payment_stripe_ids_not_blank",
            ),
            models.CheckConstraint(
                condition=Q(stripe_charge_id__isnull=False)
                | (Q(stripe_invoice_id__isnull=False) & Q(stripe_payment_intent_id__isnull=True)),
                name="payments_payment_charge_or_invoice",
            ),
        ]
        # The revenue figures and the ledger's totals read the money columns from the
        # index alone (PostgreSQL's index-only scans; other databases ignore `include`).
        indexes = [
            models.Index(
                fields=["currency", "paid_at"],
                include=["id", "kind", "amount", "fee", "net", "amount_refunded"],
                name="payments_payment_currency_paid",
            ),
            models.Index(
                fields=["kind", "paid_at"],
                include=["id", "currency", "amount", "fee", "amount_refunded"],
                name="payments_payment_kind_paid",
            ),
            models.Index(fields=["article_slug", "paid_at"]),
            # Top articles and campaigns of a period: only the attributed rows
            models.Index(
                fields=["currency", "paid_at"],
                include=["id", "article_slug", "kind", "amount"],
                condition=~Q(article_slug=""),
                name="payments_payment_by_article",
            ),
            models.Index(
                fields=["currency", "paid_at"],
                include=["id", "campaign", "kind", "amount"],
                condition=~Q(campaign=""),
                name="payments_payment_by_campaign",
            ),
            # The refunded rows (a few in a hundred), with what the ledger's totals read
            models.Index(
                fields=["paid_at"],
                include=["currency", "kind", "amount_refunded"],
                condition=Q(amount_refunded__gt=0),
                name="payments_payment_refunded",
            ),
            models.Index(fields=["donor", "paid_at"], name="payments_payment_donor_paid"),
        ]
        permissions = [
            ("view_revenue", "Can see the revenue dashboard and figures"),
            ("export_csv", "Can export lists as CSV"),
        ]

    def __str__(self) -> str:
        return f"{self.money} from {self.donor.email}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def refunded_money(self) -> Money:
        return Money(self.amount_refunded, self.currency)

    @property
    def refundable(self) -> int:
        return self.amount - self.amount_refunded

    @property
    def is_paid_outside_stripe(self) -> bool:
        """An invoice marked paid by cheque or transfer: no card charge to refund."""
        return self.stripe_charge_id is None


class HourlyRevenue(models.Model):
    """The ledger summed per hour (UTC), currency and kind: what the revenue dashboard
    reads instead of a million rows. Kept by payments/services/revenue_rollup.py as each
    ledger row is saved (and each fee arrives), in the same transaction; rebuilt from the
    ledger by `manage.py rebuild_revenue_rollup` after rows are bulk-loaded.

    Hours, not days, so that a day in any time zone whose offset is whole hours is a sum
    of whole rows, whatever TIME_ZONE is or becomes."""

    hour = models.DateTimeField(help_text="The hour's start, in UTC.")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=20, choices=PaymentKind.choices)
    payments = models.PositiveIntegerField(default=0)
    gross = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "hourly revenue"
        verbose_name_plural = "hourly revenue"
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "hour", "kind"], name="payments_hourly_revenue_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.kind} {Money(self.gross, self.currency)}"


class Refund(models.Model):
    """Money given back on a ledger row, in full or in part."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    stripe_refund_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=RefundStatus.choices)
    reason = models.CharField(max_length=100, blank=True)
    note = models.CharField(
        max_length=500, blank=True, help_text="Staff's note on why (kept here, not sent)."
    )
    ends_membership = models.BooleanField(
        default=False,
        help_text="Staff asked to end the gift membership this payment bought.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff member who asked for it from admin, if any.",
    )
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    notice_claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="A sender took the notice to send it (exactly once)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at", "id"], name="payments_refund_created")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_positive"),
            models.CheckConstraint(
                condition=~Q(stripe_refund_id=""), name="payments_refund_stripe_id_present"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {Money(self.amount, self.currency)} ({self.status})"


class Dispute(models.Model):
    """A chargeback: flagged in admin until Stripe closes it."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30, choices=DisputeStatus.choices)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    status_as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Stripe sent the status held (older ones are ignored).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["opened_at", "id"], name="payments_dispute_opened")]

    def __str__(self) -> str:
        return f"Dispute {Money(self.amount, self.currency)} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_DISPUTE_STATUSES


class StripeEvent(models.Model):
    """The webhook inbox: every Stripe event, stored raw before it is acknowledged."""

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    api_version = models.CharField(max_length=50, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField(db_index=True, help_text="When Stripe created it.")
    payload = models.JSONField(help_text="The event exactly as Stripe sent it.")
    status = models.CharField(
        max_length=20, choices=EventStatus.choices, default=EventStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="The cause of the last failure.")
    ignored_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why it was not acted on (a type we do not handle, an object that is not ours).",
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "Stripe event"
        indexes = [models.Index(fields=["received_at", "id"], name="payments_event_received")]
        permissions = [("reprocess_stripeevent", "Can process a Stripe event again")]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"

    @property
    def data_object(self) -> dict:
        return self.payload["data"]["object"]

    @property
    def in_our_api_version(self) -> bool:
        """False for an event rendered in another Stripe API version than the one we pin
        (a webhook endpoint created with another version, or an old event listed again)."""
        return self.api_version == settings.STRIPE_API_VERSION


class Receipt(models.Model):
    """The receipt for one ledger row: exactly one, numbered, sent once (resendable)."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="receipt")
    number = models.CharField(max_length=30, unique=True)
    email = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="A sender took it to send it (exactly once)."
    )
    times_sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="payments_receipt_unsent",
            )
        ]
        permissions = [("resend_receipt", "Can send a receipt again")]

    def __str__(self) -> str:
        return f"Receipt {self.number}"


class CardCheckSource(models.TextChoices):
    """What failed card checks are counted against, and what a block refuses."""

    IP = "ip", "Client address"
    EMAIL = "email", "Email"  # normalised: lower-case, without the `+tag`
    ACCOUNT = "account", "Member account"  # a signed-in member, whatever strangers type
    CARD = "card", "Card fingerprint"


class CardCheckFailure(models.Model):
    """One failed card check: a card Stripe declined while being set up or charged.

    Written once per failure (`key` names what failed), however many ways it is
    reported (our /pay answer, Stripe's event, a redelivery). See payments/card_testing.py.
    """

    key = models.CharField(max_length=255, unique=True, help_text="What failed, once.")
    stage = models.CharField(max_length=10, choices=[("setup", "Setup"), ("payment", "Payment")])
    start = models.CharField(max_length=100, help_text="The gift or membership it was for.")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    client_network = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="What the address counts as: itself, or an IPv6 address's /64.",
    )
    email = models.CharField(
        max_length=254, blank=True, help_text="A guest's email, normalised (members: account)."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The signed-in member whose start it was.",
    )
    card_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["client_network", "created_at"]),
            models.Index(fields=["email", "created_at"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["card_fingerprint", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.stage} failure for {self.start}"


class CardTestingBlock(models.Model):
    """A source (client address, email, member account, card) that failed too many card
    checks: its new gifts, memberships and card updates are refused until `until`
    (unless it passes DONATION_CHALLENGE). One row per source, renewed when it trips again."""

    source = models.CharField(max_length=10, choices=CardCheckSource.choices)
    value = models.CharField(
        max_length=254,
        help_text="The address (an IPv6 address's /64), normalised email, account id or "
        "fingerprint.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The member account (account blocks).",
    )
    reason = models.CharField(max_length=200)
    failures = models.PositiveIntegerField(help_text="Failed card checks counted when it tripped.")
    times_blocked = models.PositiveIntegerField(default=1)
    blocked_at = models.DateTimeField()
    until = models.DateTimeField(db_index=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-blocked_at"]
        verbose_name = "card-testing block"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "value"], name="payments_block_one_per_source"
            ),
        ]
        permissions = [("lift_cardtestingblock", "Can lift a card-testing block")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.value}"
