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
    owner = _owner(user, email)
    try:
        with transaction.atomic():
            donor, created = Donor.objects.get_or_create(
                email=email, defaults={"name": name, "user": owner}
            )
    except IntegrityError:  # created concurrently by another request
        donor, created = Donor.objects.get(email=email), False
    if not created:
        _owner_renames(donor, owner, name)
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


def find_donor(email: str) -> Donor | None:
    """The donor of this (lower-cased) address, if there is one: one query."""
    return Donor.objects.filter(email=email).first()


def _owner(user, email: str):
    """`user` when they own the (lower-cased) address, else None."""
    return user if user is not None and user.email.strip().lower() == email else None


def customer_for(found: Donor | None, email: str, *, name: str = "", user=None) -> str:
    """The Stripe Customer of the donor `get_or_create_donor(email, name=name, user=user)`
    would give, given the donor `find_donor(email)` found (or None): made (only when that
    donor has none yet) before the donor is stored, so a start that fails at Stripe stores
    nothing. Call it with no transaction open; then `store_donor` in the caller's."""
    if found is None:
        return _create_customer(email, name)
    if found.stripe_customer_id:
        return found.stripe_customer_id
    owner = _owner(user, email)
    renames = owner is not None and name and found.user_id in (None, owner.pk)
    return _create_customer(email, name if renames else found.name)


def store_donor(
    found: Donor | None, email: str, customer_id: str, *, name: str = "", user=None
) -> Donor | None:
    """In the caller's transaction, the donor `get_or_create_donor` would give, with
    `customer_id` kept on it; `found` is what `find_donor(email)` read before Stripe was
    asked (`customer_for`). None when another request stored another customer on that
    donor meanwhile: the caller starts again with a fresh `find_donor`.

    A new donor is one INSERT; an address someone else stored meanwhile raises
    IntegrityError, which ends the caller's transaction (it starts again). A donor found
    costs a write only when something changes: its first customer, or the signed-in
    owner's name and account (a guest's request never changes a stored donor).
    """
    owner = _owner(user, email)
    if found is None:
        return Donor.objects.create(
            email=email, name=name, user=owner, stripe_customer_id=customer_id
        )
    if not found.stripe_customer_id:
        kept = Donor.objects.filter(pk=found.pk, stripe_customer_id__isnull=True).update(
            stripe_customer_id=customer_id
        )
        if not kept:
            return None
        found.stripe_customer_id = customer_id
    elif found.stripe_customer_id != customer_id:
        return None
    _owner_renames(found, owner, name)
    return found


def _owner_renames(donor: Donor, owner, name: str) -> None:
    """The signed-in owner of the address (`owner`, or None) names their donor record and
    links it to their account; nobody else changes it. One UPDATE when something changes."""
    if owner is None or donor.user_id not in (None, owner.pk):
        return
    changed = {}
    if name and donor.name != name:
        changed["name"] = donor.name = name
    if donor.user_id is None:
        changed["user"] = donor.user = owner
    if changed:
        Donor.objects.filter(pk=donor.pk).update(**changed)
