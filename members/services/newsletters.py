"""Newsletters: the lists readers choose on their account page, and who leaves a
members-only list (a member whose perks have ended)."""

from collections.abc import Iterable

from django.db import transaction

from config.errors import Refused
from members import selectors
from members.models import NewsletterSubscription, User


@transaction.atomic
def choose_newsletters(user: User, slugs: Iterable[str]) -> set[str]:
    """The reader is on exactly these of the newsletters offered to them (public ones to
    anyone signed in, members-only ones to members); returns the slugs they are now on.

    Refused, and nothing changed, if a slug names a newsletter not offered to them.
    Lists not offered (switched off in admin) are left as they are.
    """
    offered = {newsletter.slug: newsletter for newsletter in selectors.newsletters_offered(user)}
    wanted = set(slugs)
    if wanted - offered.keys():
        raise Refused("Choose among the newsletters offered to you.", field="newsletters")
    mine = NewsletterSubscription.objects.filter(user=user, newsletter__in=offered.values())
    mine.exclude(newsletter__slug__in=wanted).delete()
    NewsletterSubscription.objects.bulk_create(
        [NewsletterSubscription(user=user, newsletter=offered[slug]) for slug in sorted(wanted)],
        ignore_conflicts=True,  # already on it: keeps its first `subscribed_at`
    )
    return wanted


def drop_members_only(user_id: int | None) -> int:
    """A reader whose last membership with perks has lapsed or ended leaves every
    members-only newsletter (the rows are deleted). Called in the membership change's
    transaction (stripe_sync.announce_changes); returns how many lists they left."""
    if user_id is None:
        return 0
    user = User.objects.get(pk=user_id)
    if selectors.has_member_perks(user):
        return 0  # another membership (a comp, a gift) still has perks
    deleted, _ = NewsletterSubscription.objects.filter(
        user_id=user_id, newsletter__members_only=True
    ).delete()
    return deleted
