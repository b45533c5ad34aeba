"""The bench's Celery app: the site's own (config.celery, every task it has) plus a
no-op task, the yardstick the event-processing rate is compared with.

The bench's worker runs `celery -A bench.worker worker`; application code never
sees the no-op task.
"""

from config.celery import app

__all__ = ["app", "noop"]


@app.task(name="bench.noop")
def noop() -> None:
    """Nothing: what a task costs the worker on its own (broker, ack, prefork)."""
