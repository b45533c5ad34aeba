"""The bench worker's queues: holding them still, emptying them, waiting for them.

The worker is the site's Celery app plus the bench's no-op task (bench/worker.py),
started on WORKER_QUEUES: the default queue, where Stripe events are processed, and
"emails", where receipts and notices go so they never wait behind a backlog of events.
"""

import contextlib
import os
import signal
import time
from collections.abc import Iterator

from bench.simulation.stack import WORKER_QUEUES, Stack


@contextlib.contextmanager
def worker_paused(stack: Stack) -> Iterator[None]:
    """The worker (its main process and pool) is stopped (SIGSTOP) inside the block, so
    tasks published meanwhile wait in the broker and it takes no CPU; it goes on after
    (SIGCONT). Celery's own cancel_consumer/add_consumer was tried: consuming resumes
    slowly after it, which would make the no-op yardstick look slow."""
    group = stack.processes["worker"].pid
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def waiting(stack: Stack, queues: tuple[str, ...] = WORKER_QUEUES) -> int:
    """Tasks waiting in the broker on `queues`."""
    client = stack._redis()
    return sum(client.llen(queue) for queue in queues)


def purge(stack: Stack, queues: tuple[str, ...] = WORKER_QUEUES) -> int:
    """Drop the tasks waiting on `queues`; returns how many there were."""
    client = stack._redis()
    dropped = waiting(stack, queues)
    for queue in queues:
        client.delete(queue)
    return dropped


def wait_idle(stack: Stack, *, timeout: float = 120) -> bool:
    """Nothing waiting and nothing running, for a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.queue_is_idle():
            time.sleep(1)
            if stack.queue_is_idle():
                return True
        time.sleep(0.5)
    return False
