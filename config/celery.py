"""The Celery app. Settings come from Django settings, under the CELERY_ prefix."""

import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("patronage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect(weak=False, dispatch_uid="patronage-db-connections")
def database_connections_as_between_requests(sender=None, **kwargs) -> None:
    """Before each task, what Django does before each request: a connection past
    CONN_MAX_AGE, broken by an error, or failing its health check is replaced; a sound
    one is kept. (Celery's own fix-up would close it after every task instead, see
    CELERY_DB_REUSE_MAX: a new PostgreSQL connection, and a server process, per task.)
    Not for a task run eagerly, inside the caller's own transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
