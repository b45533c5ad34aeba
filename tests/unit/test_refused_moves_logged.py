"""A refused status move changes nothing and says so in the log: which record, which
move, on which machine (payments/states.py, members/states.py)."""

import logging
import uuid

from members.states import MEMBERSHIP, MembershipStatus
from payments.states import DONATION, DonationStatus


class Membership:
    """Stands in for a model instance: a pk, a public id and a status."""

    def __init__(self, status: str) -> None:
        self.pk = 7
        self.public_id = uuid.UUID(int=7)
        self.status = status


def test_a_backward_move_is_refused_and_logged_with_the_record_and_the_move(caplog):
    ended = Membership(MembershipStatus.CANCELED)

    with caplog.at_level(logging.INFO, logger="payments.states"):
        assert MEMBERSHIP.advance(ended, MembershipStatus.ACTIVE) is False

    assert ended.status == MembershipStatus.CANCELED
    (entry,) = caplog.records
    assert entry.levelno == logging.INFO
    assert entry.getMessage() == (
        f"Membership 7 [{uuid.UUID(int=7)}]: refused move canceled -> active (MEMBERSHIP.status)"
    )


def test_a_status_the_machine_does_not_know_is_a_warning(caplog):
    gift = Membership(DonationStatus.PROCESSING)

    with caplog.at_level(logging.INFO, logger="payments.states"):
        assert DONATION.advance(gift, "on_hold") is False

    (entry,) = caplog.records
    assert entry.levelno == logging.WARNING
    assert "refused move processing -> on_hold (DONATION.status)" in entry.getMessage()
    assert "does not know" in entry.getMessage()


def test_an_allowed_move_or_no_move_logs_nothing(caplog):
    joining = Membership(MembershipStatus.INCOMPLETE)

    with caplog.at_level(logging.INFO, logger="payments.states"):
        assert MEMBERSHIP.advance(joining, MembershipStatus.ACTIVE) is True
        assert MEMBERSHIP.advance(joining, MembershipStatus.ACTIVE) is False  # already there

    assert caplog.records == []
