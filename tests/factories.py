import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from content.models import Article
from members.models import User
from payments.models import Donor, Payment
from payments.states import PaymentKind

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
