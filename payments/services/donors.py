"""Donors: the person behind payments, by email, and their Stripe Customer."""

import hashlib

from django.db import IntegrityError, transaction

from payments import stripe_gateway as gateway
from payments.models import Donor


def get_or_create_donor(email: str, *, name: str = "", user=None) -> Donor:
    """The one donor for this email (any casing), created on first gift.

    Anyone can type any address into a gift form, so a guest's request never
    changes a stored donor: the name given is kept with that gift (and printed
    on its receipt) instead. Only the signed-in owner of the address (`user`,
    whose address is verified) renames their donor record or links it.
    """
    email = email.strip().lower()
    owner = user if user is not None and user.email.strip().lower() == email else None
    try:
        with transaction.atomic():
            donor, created = Donor.objects.get_or_create(
                email=email, defaults={"name": name, "user": owner}
            )
    except IntegrityError:  # created concurrently by another request
        donor, created = Donor.objects.get(email=email), False
    if created or owner is None or donor.user_id not in (None, owner.pk):
        return donor
    changed = []
    if name and donor.name != name:
        donor.name = name
        changed.append("name")
    if donor.user_id is None:
        donor.user = owner
        changed.append("user")
    if changed:
        donor.save(update_fields=changed)
    return donor


def link_donor_to_user(email: str, user) -> None:
    """A verified address joins the account: its earlier gifts show in the account."""
    Donor.objects.filter(email=email.strip().lower(), user__isnull=True).update(user=user)


def _create_customer(email: str, name: str) -> str:
    key = "customer-" + hashlib.sha256(email.encode()).hexdigest()[:32]
    return gateway.create_customer(email=email, name=name, idempotency_key=key)


def ensure_stripe_customer(donor: Donor) -> str:
    """The donor's Stripe Customer, made on first use. Call it with no transaction open:
    Stripe is asked first, then one row is updated (the first customer stored wins)."""
    if donor.stripe_customer_id:
        return donor.stripe_customer_id
    keep_stripe_customer(donor, _create_customer(donor.email, donor.name))
    return donor.stripe_customer_id


def keep_stripe_customer(donor: Donor, customer_id: str) -> None:
    """Store the customer on a donor that has none yet; `donor` then holds the one stored."""
    Donor.objects.filter(pk=donor.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    donor.refresh_from_db(fields=["stripe_customer_id"])


def stripe_customer_for(email: str, *, name: str = "", user=None) -> str:
    """The Stripe Customer of the donor `get_or_create_donor(email, name=name, user=user)`
    gives, made (if it has none) before that donor is stored: Stripe is asked first, so a
    start that fails at Stripe stores nothing. The caller stores the donor afterwards, in
    its own transaction, and keeps this customer on it (`keep_stripe_customer`)."""
    email = email.strip().lower()
    donor = Donor.objects.filter(email=email).first()
    if donor is None:
        return _create_customer(email, name)
    if donor.stripe_customer_id:
        return donor.stripe_customer_id
    owner = user is not None and user.email.strip().lower() == email
    renames = owner and name and donor.user_id in (None, user.pk)
    return _create_customer(email, name if renames else donor.name)
