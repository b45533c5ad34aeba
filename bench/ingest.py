"""Webhook ingest (POST /stripe/webhook: verify the signature, store the event, enqueue
its processing) as requests/s relative to the ceiling view measured just before.

wrk's Lua cannot compute an HMAC, so the events are signed beforehand in Python
(bench/events.py: realistic `payment_intent.succeeded` events, each with a new id, so
none is a duplicate) and bench/ingest.lua sends each once, every wrk thread its own
slice. Enough are made for the ceiling's rate over the whole run (the endpoint does
more than the ceiling view, so it cannot outrun it); the warm-up run has events of its
own. The worker is stopped (SIGSTOP) during the runs, so the figure is the endpoint's
alone (the enqueued tasks are dropped afterwards: the events name no stored gift).
Any answer other than 200 is a failure.
"""

import re
import tempfile
from pathlib import Path

from bench import events, queues
from bench.context import Bench
from bench.web import wrk_command, wrk_output

TARGET = 0.50
LUA = Path(__file__).with_name("ingest.lua")
MARGIN = 1.3


def events_needed(rate: float, seconds: float) -> int:
    """Events enough for `seconds` at `rate` requests/s, with a margin."""
    return int(rate * seconds * MARGIN) + 500


def repeated(output: str) -> int:
    found = re.search(r"^REPEATED (\d+)$", output, re.MULTILINE)
    return int(found.group(1)) if found else 0


def run_ingest(bench: Bench) -> None:
    stack, load = bench.stack, bench.load
    url = bench.url("/stripe/webhook")
    workdir = Path(tempfile.mkdtemp(prefix="ingest-", dir=stack.workdir))
    script_args = lambda path: (str(path), str(load.threads))  # noqa: E731

    def measure():
        rate = bench.ceilings[-1]
        warm, timed = workdir / "warm.events", workdir / "timed.events"
        events.write_signed(
            warm,
            (events.unknown_gift_succeeded() for _ in range(events_needed(rate, load.warmup))),
            stack.webhook_secret,
        )
        events.write_signed(
            timed,
            (events.unknown_gift_succeeded() for _ in range(events_needed(rate, load.duration))),
            stack.webhook_secret,
        )
        with queues.worker_paused(stack):
            wrk_output(
                wrk_command(
                    url, load, duration=load.warmup, script=str(LUA), script_args=script_args(warm)
                )
            )
            result = bench.wrk(
                "/stripe/webhook", warm=False, script=str(LUA), script_args=script_args(timed)
            )
            queues.purge(stack)
        if repeated(result.output):
            bench.report.fail(f"ingest: {repeated(result.output)} events sent twice (too few made)")
        return result

    bench.against_ceiling("webhook ingest (verify, store, enqueue)", measure, at_least=TARGET)
