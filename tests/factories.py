"""factory_boy factories: one for every model of payments, members and content.

Each builds a row that passes the model's constraints, as the product would leave it;
tests/unit/test_factories.py checks that every model has one and that it saves.
"""

import uuid
from datetime import UTC, datetime, timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from content.models import Article, ArticleDocument, Campaign, CampaignContribution
from members.models import (
    GiftMembership,
    LevelAmount,
    Membership,
    MembershipLevel,
    Newsletter,
    NewsletterSubscription,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from members.states import GiftStatus, Interval, MemberEvent, MembershipKind, MembershipStatus
from payments.models import (
    CardCheckFailure,
    CardCheckSource,
    CardTestingBlock,
    Dispute,
    Donation,
    Donor,
    HourlyRevenue,
    Payment,
    Receipt,
    Refund,
    StripeEvent,
    SuggestedAmount,
)
from payments.states import DisputeStatus, DonationStatus, EventStatus, PaymentKind, RefundStatus

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A member whose email is verified, able to sign in with PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    display_name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    slug = factory.Sequence(lambda n: f"article-{n}")
    title = factory.Faker("sentence")
    url = factory.LazyAttribute(lambda a: f"https://news.example.org/{a.slug}/")
    published_at = factory.LazyFunction(timezone.now)


class ArticleDocumentFactory(factory.django.DjangoModelFactory):
    """A document behind an article's story (a member extra)."""

    class Meta:
        model = ArticleDocument

    article = factory.SubFactory(ArticleFactory)
    title = factory.Sequence(lambda n: f"Court filing {n}")
    url = factory.Sequence(lambda n: f"https://documents.example.org/filing-{n}.pdf")
    position = factory.Sequence(lambda n: n)


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    email = factory.Sequence(lambda n: f"donor{n}@example.org")
    name = factory.Faker("name")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A ledger row for a card payment, as a paid one-time gift leaves it."""

    class Meta:
        model = Payment

    donor = factory.SubFactory(DonorFactory)
    kind = PaymentKind.ONE_TIME
    amount = 2500
    currency = "EUR"
    fee = 88
    net = factory.LazyAttribute(lambda p: p.amount - p.fee)
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_factory{n}")
    stripe_charge_id = factory.Sequence(lambda n: f"ch_factory{n}")
    paid_at = factory.LazyFunction(timezone.now)


class HourlyRevenueFactory(factory.django.DjangoModelFactory):
    """An hour's sums, as payments/services/revenue_rollup.py keeps them (a ledger row
    made with PaymentFactory is counted there already: use this one only alone)."""

    class Meta:
        model = HourlyRevenue

    hour = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n))
    currency = "EUR"
    kind = PaymentKind.ONE_TIME
    payments = 1
    gross = 2500
    fees = 88


class DonationFactory(factory.django.DjangoModelFactory):
    """A gift started on the page and not paid (yet)."""

    class Meta:
        model = Donation

    donor = factory.SubFactory(DonorFactory)
    amount = 2500
    currency = "EUR"
    status = DonationStatus.AWAITING_CARD


class ReceiptFactory(factory.django.DjangoModelFactory):
    """A ledger row's receipt, sent to its donor."""

    class Meta:
        model = Receipt

    payment = factory.SubFactory(PaymentFactory)
    number = factory.Sequence(lambda n: f"2026-{n + 1:08d}")
    email = factory.LazyAttribute(lambda r: r.payment.donor.email)
    sent_at = factory.LazyFunction(timezone.now)
    times_sent = 1


class MembershipFactory(factory.django.DjangoModelFactory):
    """A complimentary membership (no Stripe subscription behind it)."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda m: m.user.email if m.user else "member@example.org")
    kind = MembershipKind.COMP
    status = MembershipStatus.ACTIVE
    note = "Granted by staff"


class GiftMembershipFactory(factory.django.DjangoModelFactory):
    """A gift membership paid and sent to its recipient."""

    class Meta:
        model = GiftMembership

    donation = factory.SubFactory(
        DonationFactory, kind=PaymentKind.GIFT, status=DonationStatus.SUCCEEDED
    )
    giver_name = factory.Faker("name")
    recipient_email = factory.Sequence(lambda n: f"friend{n}@example.org")
    recipient_name = factory.Faker("first_name")
    message = "Happy birthday!"
    months = 3
    send_on = factory.LazyFunction(timezone.localdate)
    status = GiftStatus.SENT
    sent_at = factory.LazyFunction(timezone.now)


class StripeEventFactory(factory.django.DjangoModelFactory):
    """A raw Stripe event in the inbox, already handled."""

    class Meta:
        model = StripeEvent

    stripe_id = factory.Sequence(lambda n: f"evt_factory{n}")
    type = "charge.updated"
    stripe_created = factory.LazyFunction(timezone.now)
    status = EventStatus.PROCESSED
    payload = factory.LazyAttribute(
        lambda e: {"id": e.stripe_id, "type": e.type, "data": {"object": {"id": "ch_x"}}}
    )


class SuggestedAmountFactory(factory.django.DjangoModelFactory):
    """A one-click amount on the give page (unique per currency and amount)."""

    class Meta:
        model = SuggestedAmount

    currency = "EUR"
    amount = factory.Sequence(lambda n: 500 + 100 * n)
    position = factory.Sequence(lambda n: n)
    is_default = False


class RefundFactory(factory.django.DjangoModelFactory):
    """Money given back on a ledger row, in full unless `amount` says otherwise.

    As the product keeps it, the payment's `amount_refunded` is the sum of its
    succeeded refunds (set here after the refund is made).
    """

    class Meta:
        model = Refund
        skip_postgeneration_save = True

    payment = factory.SubFactory(PaymentFactory)
    stripe_refund_id = factory.Sequence(lambda n: f"re_factory{n}")
    amount = factory.LazyAttribute(lambda r: r.payment.amount - r.payment.amount_refunded)
    currency = factory.LazyAttribute(lambda r: r.payment.currency)
    status = RefundStatus.SUCCEEDED
    reason = "requested_by_customer"

    @factory.post_generation
    def recount(self, create, extracted, **kwargs):
        if not create:
            return
        succeeded = self.payment.refunds.filter(status=RefundStatus.SUCCEEDED)
        total = sum(succeeded.values_list("amount", flat=True))
        Payment.objects.filter(pk=self.payment.pk).update(amount_refunded=total)
        self.payment.amount_refunded = total


class DisputeFactory(factory.django.DjangoModelFactory):
    """A chargeback on a ledger row, open and waiting for our evidence."""

    class Meta:
        model = Dispute

    payment = factory.SubFactory(PaymentFactory)
    stripe_dispute_id = factory.Sequence(lambda n: f"dp_factory{n}")
    amount = factory.LazyAttribute(lambda d: d.payment.amount)
    currency = factory.LazyAttribute(lambda d: d.payment.currency)
    reason = "fraudulent"
    status = DisputeStatus.NEEDS_RESPONSE
    opened_at = factory.LazyFunction(timezone.now)
    status_as_of = factory.LazyAttribute(lambda d: d.opened_at)


class CardCheckFailureFactory(factory.django.DjangoModelFactory):
    """One card a guest's gift had declined at payment (payments/card_testing.py)."""

    class Meta:
        model = CardCheckFailure

    key = factory.Sequence(lambda n: f"payment:pi_factory{n}:ch_factory{n}")
    stage = "payment"
    start = factory.Sequence(lambda n: f"one-time factory-{n}")
    client_ip = "203.0.113.7"
    email = "tester@example.org"
    card_fingerprint = factory.Sequence(lambda n: f"fp{n:014d}")
    created_at = factory.LazyFunction(timezone.now)


class CardTestingBlockFactory(factory.django.DjangoModelFactory):
    """A client address blocked for an hour after too many failed card checks."""

    class Meta:
        model = CardTestingBlock

    source = CardCheckSource.IP
    value = factory.Sequence(lambda n: f"198.51.{n // 250}.{n % 250 + 1}")
    reason = "10 failed card checks within 1 hour"
    failures = 10
    blocked_at = factory.LazyFunction(timezone.now)
    until = factory.LazyAttribute(lambda b: b.blocked_at + timedelta(hours=1))


class MembershipLevelFactory(factory.django.DjangoModelFactory):
    """A membership tier offered on the join page, with two perks."""

    class Meta:
        model = MembershipLevel

    name = factory.Sequence(lambda n: f"Level {n}")
    slug = factory.Sequence(lambda n: f"level-{n}")
    description = "The newsletter\nOur thanks in the annual report"
    position = factory.Sequence(lambda n: n)


class LevelAmountFactory(factory.django.DjangoModelFactory):
    """What a level costs per month in EUR (one per level, currency and interval)."""

    class Meta:
        model = LevelAmount

    level = factory.SubFactory(MembershipLevelFactory)
    currency = "EUR"
    interval = Interval.MONTH
    amount = 500


class PaidMembershipFactory(MembershipFactory):
    """An active paid membership: a Stripe subscription, paid by the member's donor."""

    kind = MembershipKind.PAID
    note = ""
    donor = factory.SubFactory(
        DonorFactory,
        email=factory.SelfAttribute("..email"),
        user=factory.SelfAttribute("..user"),
        stripe_customer_id=factory.Sequence(lambda n: f"cus_factory{n}"),
    )
    amount = 500
    currency = "EUR"
    interval = Interval.MONTH
    stripe_subscription_id = factory.Sequence(lambda n: f"sub_factory{n}")
    current_period_end = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    stripe_synced_at = factory.LazyFunction(timezone.now)


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign running now, for new members (no currency)."""

    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Appeal {n}")
    slug = factory.Sequence(lambda n: f"appeal-{n}")
    goal = 500
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class CampaignContributionFactory(factory.django.DjangoModelFactory):
    """A membership counted towards a campaign (the counters are not moved: see
    content/services/campaigns.py for the real thing)."""

    class Meta:
        model = CampaignContribution

    campaign = factory.SubFactory(CampaignFactory)
    source = CampaignContribution.Source.MEMBERSHIP
    source_id = factory.Sequence(lambda n: n + 1)
    new_members = 1


class NewsletterFactory(factory.django.DjangoModelFactory):
    """A public newsletter readers choose on their account page."""

    class Meta:
        model = Newsletter

    name = factory.Sequence(lambda n: f"Newsletter {n}")
    slug = factory.Sequence(lambda n: f"newsletter-{n}")
    description = "Every weekday morning, from the editors."
    members_only = False
    position = factory.Sequence(lambda n: n)


class NewsletterSubscriptionFactory(factory.django.DjangoModelFactory):
    """A reader on a public newsletter's list."""

    class Meta:
        model = NewsletterSubscription

    newsletter = factory.SubFactory(NewsletterFactory)
    user = factory.SubFactory(UserFactory)
    subscribed_at = factory.LazyFunction(timezone.now)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """A newsroom system told about memberships (nothing listens there in tests)."""

    class Meta:
        model = WebhookEndpoint

    url = factory.Sequence(lambda n: f"https://cms.example.org/hooks/{n}")
    description = "The newsroom's CMS"


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    """A membership.started event, delivered at the first try."""

    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    membership = factory.SubFactory(MembershipFactory)
    event_type = MemberEvent.STARTED
    event_id = factory.LazyFunction(uuid.uuid4)
    payload = factory.LazyAttribute(
        lambda d: {
            "id": str(d.event_id),
            "type": str(d.event_type),
            "created": int(timezone.now().timestamp()),
            "data": {"membership": {"id": str(d.membership.public_id), "status": "active"}},
        }
    )
    attempts = 1
    last_attempt_at = factory.LazyFunction(timezone.now)
    last_status_code = 200
    delivered_at = factory.LazyFunction(timezone.now)
