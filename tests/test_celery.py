import os

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import connection, transaction

from config.celery import app
from members.services.accounts import queue_email
from tests.support.processes import wait_until


def test_tasks_are_acknowledged_late_serialised_as_json_and_time_limited():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_time_limit > conf.task_soft_time_limit > 0
    assert "members.tasks.deliver_email" in app.tasks


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI proves the real stack; a laptop may not")
def test_ci_runs_on_postgresql_with_a_real_broker():
    assert connection.vendor == "postgresql"
    assert app.conf.task_always_eager is False


def test_a_queued_email_leaves_only_after_the_transaction_commits(tasks, mailoutbox):
    message = EmailMultiAlternatives("Hello", "Plain", "from@example.org", ["to@example.org"])
    message.attach_alternative("<p>Rich</p>", "text/html")

    with transaction.atomic():
        queue_email(message)
        assert mailoutbox == []

    (sent,) = wait_until(lambda: mailoutbox)
    assert (sent.subject, sent.body, sent.to) == ("Hello", "Plain", ["to@example.org"])
    assert sent.alternatives[0][0] == "<p>Rich</p>"


def test_an_email_queued_in_a_rolled_back_transaction_is_never_sent(tasks, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_email(EmailMessage("Rolled back", "x", "from@example.org", ["a@example.org"]))
        raise RuntimeError("the request failed")
    queue_email(EmailMessage("Committed", "x", "from@example.org", ["b@example.org"]))

    wait_until(lambda: mailoutbox)
    assert [m.subject for m in mailoutbox] == ["Committed"]
