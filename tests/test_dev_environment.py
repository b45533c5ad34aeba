"""`make run` for a newcomer: the Stripe emulator's objects outlive a restart in a file of
their own, the staff sign-in stays the same from run to run and is printed once all is
up, and emails are printed as blocks a person can read."""

import os
import re
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from config import dev_email, dev_ready
from content.management.commands import demo_data
from tests.support.processes import PROJECT, free_port, running_emulator

# localstripe's own state file, one for every emulator on the machine
SHARED_STATE = Path("/tmp/localstripe.pickle")  # noqa: S108


def create_customer(port: int, email: str) -> str:
    response = requests.post(
        f"http://127.0.0.1:{port}/v1/customers",
        data={"email": email},
        auth=("sk_test_dev", ""),
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["id"]


def customer_emails(port: int) -> set[str]:
    response = requests.get(
        f"http://127.0.0.1:{port}/v1/customers", auth=("sk_test_dev", ""), timeout=5
    )
    response.raise_for_status()
    return {customer["email"] for customer in response.json()["data"]}


def shared_state_stamp() -> float | None:
    return SHARED_STATE.stat().st_mtime if SHARED_STATE.exists() else None


@pytest.mark.integration
def test_the_emulator_keeps_its_objects_in_its_state_file_across_a_restart(tmp_path):
    state, port, before = tmp_path / "stripe-emulator.state", free_port(), shared_state_stamp()
    with running_emulator(port, state_file=state):
        customer = create_customer(port, "kept@example.org")

    with running_emulator(port, state_file=state):
        response = requests.get(
            f"http://127.0.0.1:{port}/v1/customers/{customer}", auth=("sk_test_dev", ""), timeout=5
        )

    assert response.status_code == 200
    assert response.json()["email"] == "kept@example.org"
    assert shared_state_stamp() == before  # nothing written to localstripe's machine-wide file


@pytest.mark.integration
def test_two_emulators_on_two_state_files_never_see_each_others_objects(tmp_path):
    first, second = free_port(), free_port()
    with (
        running_emulator(first, state_file=tmp_path / "first.state"),
        running_emulator(second, state_file=tmp_path / "second.state"),
    ):
        create_customer(first, "first@example.org")
        create_customer(second, "second@example.org")
    with running_emulator(first, state_file=tmp_path / "first.state"):
        assert customer_emails(first) == {"first@example.org"}
    with running_emulator(first):  # no state file: empty, in memory only (the tests')
        assert customer_emails(first) == set()


@pytest.mark.integration
def test_an_unreadable_state_file_is_set_aside_and_the_emulator_starts_empty(tmp_path):
    state, port = tmp_path / "stripe-emulator.state", free_port()
    state.write_bytes(b"not a pickle")
    with running_emulator(port, state_file=state):
        assert customer_emails(port) == set()
        create_customer(port, "after-a-bad-file@example.org")

    assert (tmp_path / "stripe-emulator.state.unreadable").read_bytes() == b"not a pickle"
    with running_emulator(port, state_file=state):
        assert customer_emails(port) == {"after-a-bad-file@example.org"}


@pytest.mark.django_db
def test_the_demo_staff_password_is_made_once_kept_private_and_opens_the_admin(tmp_path, client):
    password_file = tmp_path / "staff-password"
    outputs = [StringIO(), StringIO()]
    for out in outputs:
        call_command("demo_data", "--no-ledger", "--password-file", password_file, stdout=out)

    printed = [re.search(r"Staff sign-in: (\S+) / (\S+)", out.getvalue()) for out in outputs]
    assert printed[0].groups() == printed[1].groups()
    email, password = printed[1].groups()
    assert password == password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    client.post(reverse("account_login"), {"login": email, "password": password})
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_start_up_block_names_the_address_and_the_staff_sign_in():
    block = dev_ready.banner("http://127.0.0.1:8811", "s3cret-pass")

    assert "open http://127.0.0.1:8811/" in block
    assert "http://127.0.0.1:8811/admin/" in block
    assert dev_ready.STAFF_EMAIL == demo_data.STAFF_EMAIL
    assert "s3cret-pass" in block
    assert dev_ready.PASSWORD_FILE == PROJECT / "var" / "staff-password"


def test_a_development_email_is_printed_as_a_block_of_who_what_and_the_text():
    message = mail.EmailMultiAlternatives(
        subject="Your receipt",
        body="Thank you for your gift of $10.00.\nSee you soon.\n",
        from_email="Newsroom <support@example.org>",
        to=["reader@example.org"],
    )
    message.attach_alternative("<p>Thank you</p>", "text/html")
    out = StringIO()

    dev_email.EmailBackend(stream=out).send_messages([message])

    assert out.getvalue() == "\n".join(
        [
            dev_email.RULE,
            "Email from: Newsroom <support@example.org>",
            "To:      reader@example.org",
            "Subject: Your receipt",
            "Also:    text/html",
            "-" * 72,
            "Thank you for your gift of $10.00.",
            "See you soon.",
            dev_email.RULE,
            "",
        ]
    )


@pytest.mark.parametrize(
    ("environment", "backend"),
    [
        ({"DEBUG": "1"}, "config.dev_email.EmailBackend"),
        ({"DEBUG": "0", "SECRET_KEY": "x" * 50}, "django.core.mail.backends.console.EmailBackend"),
        ({"DEBUG": "1", "EMAIL_URL": "smtp://mail.example.org"}, "smtp.EmailBackend"),
    ],
)
def test_emails_are_printed_as_blocks_in_development_only(environment, backend):
    environment = {**os.environ, "EMAIL_URL": "console:", **environment}
    printed = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.EMAIL_BACKEND)"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert printed.endswith(backend)


def test_make_run_keeps_its_emulator_state_in_var_and_make_clean_removes_var():
    procfile = (PROJECT / "Procfile.dev").read_text()
    makefile = (PROJECT / "Makefile").read_text()

    assert "--state-file var/stripe-emulator.state" in procfile
    assert re.search(r"^clean:\n\trm -rf \$\(VENV\) var$", makefile, re.MULTILINE)
    assert "var/" in (PROJECT / ".gitignore").read_text().split()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_member_who_joined_before_a_restart_and_a_test_run_still_changes_their_amount(
    tmp_path, client, settings
):
    """`make run`'s emulator, stopped, another emulator run meanwhile (as `make test`
    does), then started again on its file: the member's subscription is still there."""
    from members.selectors import has_member_perks
    from members.services import self_service
    from tests.factories import UserFactory
    from tests.members.memberships import join

    state, port = tmp_path / "stripe-emulator.state", free_port()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    member = UserFactory(email="kept.member@example.org")
    client.force_login(member)
    with running_emulator(port, state_file=state):
        membership = join(client, amount="10", currency="USD", interval="month")
    with running_emulator(free_port()):  # the test suite's own, in memory
        pass

    with running_emulator(port, state_file=state):
        changed, _ = self_service.change_membership(membership, amount=1500, interval="month")

    assert (changed.amount, changed.interval) == (1500, "month")
    assert has_member_perks(member)
