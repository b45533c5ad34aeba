"""A write Stripe may have done but never answered is told as unknown, never as "not
charged"; one that never left (no connection made) is told as not done. Real sockets:
a port nobody listens on, and a server that reads the request and hangs up."""

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from members.services.self_service import not_done_message
from payments import stripe_gateway as gateway


@pytest.fixture
def nobody_listening() -> str:
    """An address whose connections are refused."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hangs_up_after_reading() -> Iterator[str]:
    """A server that reads each request and closes the connection without answering:
    the request reached it, the answer is lost."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    listener.close()


@pytest.fixture
def stripe_at(settings):
    def point(base: str) -> None:
        settings.STRIPE_API_BASE = base
        settings.STRIPE_MAX_NETWORK_RETRIES = 1

    return point


def charge() -> None:
    gateway.create_payment_intent(
        amount=1000,
        currency="EUR",
        customer_id="cus_1",
        payment_method_id="pm_1",
        metadata={},
        idempotency_key="outcome-test",
    )


def test_a_charge_that_never_left_is_told_as_not_charged(stripe_at, nobody_listening):
    stripe_at(nobody_listening)

    with pytest.raises(gateway.GatewayUnavailable) as failed:
        charge()

    assert not isinstance(failed.value, gateway.OutcomeUnknown)
    assert "You have not been charged" in failed.value.user_message


def test_a_charge_sent_and_unanswered_is_unknown_and_never_told_as_not_charged(
    stripe_at, hangs_up_after_reading
):
    stripe_at(hangs_up_after_reading)

    with pytest.raises(gateway.OutcomeUnknown) as failed:
        charge()

    said = failed.value.user_message
    assert "not been charged" not in said
    assert "cannot tell yet whether your payment went through" in said
    assert "receipt" in said


def test_a_write_that_takes_no_money_unanswered_is_unknown_but_still_not_a_charge(
    stripe_at, hangs_up_after_reading
):
    stripe_at(hangs_up_after_reading)

    with pytest.raises(gateway.OutcomeUnknown) as failed:
        gateway.set_cancel_at_period_end("sub_1", True, idempotency_key="outcome-test-cancel")

    assert "You have not been charged" in failed.value.user_message
    assert "cannot tell yet whether your membership changed" in not_done_message(failed.value)
    assert "unchanged" not in not_done_message(failed.value)


def test_a_read_unanswered_changed_nothing(stripe_at, hangs_up_after_reading):
    stripe_at(hangs_up_after_reading)

    with pytest.raises(gateway.GatewayUnavailable) as failed:
        gateway.retrieve_subscription("sub_1")

    assert not isinstance(failed.value, gateway.OutcomeUnknown)


def test_a_member_whose_change_never_reached_stripe_is_told_it_is_unchanged():
    unreachable = gateway.GatewayUnavailable(gateway.UNAVAILABLE_MESSAGE)

    assert not_done_message(unreachable).endswith("Your membership is unchanged.")


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (gateway.OutcomeUnknown("reader's", detail="APIError 500"), "not known whether"),
        (gateway.GatewayUnavailable("reader's", detail="APIConnectionError"), "was not made"),
        (gateway.GatewayError("reader's", detail="InvalidRequestError 400"), "was not made"),
    ],
)
def test_staff_are_told_whether_the_refund_was_made_with_stripes_detail(failure, says):
    told = gateway.staff_message(failure, "The refund")

    assert says in told
    assert failure.detail in told
    assert "reader's" not in told and "charged" not in told
