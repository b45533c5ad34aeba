"""The public supporters page (/supporters/): members listed by name, by their choice."""

from config.errors import Refused
from members import selectors
from members.models import User


def list_on_supporters_wall(user: User, listed: bool) -> None:
    """The member's choice to be listed (or not) on the supporters page. Leaving it is
    always possible; joining it takes a name to show and a membership with perks (the
    page lists only members, and only while they are)."""
    if listed:
        if not user.display_name.strip():
            raise Refused(
                "Add your name first: the supporters page shows it.", field="display_name"
            )
        if not selectors.has_member_perks(user):
            raise Refused("The supporters page lists members only.")
    User.objects.filter(pk=user.pk).update(on_supporters_wall=listed)
    user.on_supporters_wall = listed
