import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from content.models import Article
from members.models import GiftMembership, Membership, User
from members.states import GiftStatus, MembershipKind, MembershipStatus
from payments.models import Donation, Donor, Payment, Receipt, StripeEvent
from payments.states import DonationStatus, EventStatus, PaymentKind

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
