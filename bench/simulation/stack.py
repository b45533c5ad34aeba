"""The whole stack on loopback, each part on a free port, torn down at the end.

A fresh PostgreSQL database on the running server, a Redis server of its own (or,
with `redis_db`, a flushed database of the shared one on 6379),
gunicorn serving `config.wsgi` with production settings (DEBUG=0), a Celery
worker with two processes, the Stripe emulator behind a proxy that honours
idempotency keys as Stripe does, a chaos proxy in front of the webhook endpoint,
and a mail server that keeps what the site sends.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
import requests

from bench.simulation.chaos import ChaosProxy
from bench.simulation.mailbox import Mailbox
from tests.support.processes import free_port, stop_group, wait_for_port
from tests.support.stripe_proxy import StripeProxy

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = {"host": "127.0.0.1", "port": 6379}
# The worker's queues: Stripe events (Celery's default queue) and emails (CELERY_EMAIL_QUEUE)
WORKER_QUEUES = ("celery", "emails")


class Stack:
    """Start with `start()`, always `stop()` (it undoes whatever was started)."""

    def __init__(
        self,
        *,
        seed: int,
        redis_db: int | None = None,
        web_workers: int = 3,
        calm: bool = False,
        settings_module: str = "config.settings",
        celery_app: str = "config",
        api_proxy_class: type[StripeProxy] = StripeProxy,
    ) -> None:
        self.seed = seed
        self.calm = calm  # webhooks delivered at once, once: no chaos (the browser tests)
        # A Redis server of our own by default: the shared one's databases are used by
        # other test runs on the machine, and one that flushes "its" database (every
        # test clears its cache) would take the queue's bindings with it, and every
        # task published after that is silently dropped.
        self.redis_db = redis_db
        self.redis = dict(REDIS)
        self.web_workers = web_workers
        # The bench (bench/__main__.py) starts the site with its own settings module (the
        # same settings plus a ceiling view), a worker app with a no-op task and a proxy
        # that times Stripe's calls.
        self.settings_module = settings_module
        self.celery_app = celery_app
        self.api_proxy_class = api_proxy_class
        self.db_name = f"patronage_sim_{os.getpid()}"
        self.workdir = Path(tempfile.mkdtemp(prefix="patronage-sim-"))
        self.webhook_secret = "whsec_sim_" + secrets.token_hex(16)
        self.secret_key = "sk_test_patronage_sim"
        self.publishable_key = "pk_test_patronage_sim"
        self.mail = Mailbox()
        self.processes: dict[str, subprocess.Popen] = {}
        self.chaos: ChaosProxy | None = None
        self.api_proxy: StripeProxy | None = None
        self.env: dict[str, str] = {}
        self.site = self.emulator = ""
        self._db_created = False

    # --- Start ------------------------------------------------------------------------

    def start(self) -> "Stack":
        self._create_database()
        self._start_redis()
        self.mail.start()
        web_port, stripe_port = free_port(), free_port()
        self.site = f"http://127.0.0.1:{web_port}"
        self.emulator = f"http://127.0.0.1:{stripe_port}"
        self.chaos = ChaosProxy(
            f"{self.site}/stripe/webhook", seed=self.seed, calm=self.calm
        ).start()
        self._spawn(
            "emulator",
            [
                *("-m", "bench.simulation.emulator", "--port", str(stripe_port)),
                *("--from-scratch", "--webhook", self.chaos.url),
            ],
            {**os.environ, "STRIPE_WEBHOOK_SECRET": self.webhook_secret},
        )
        wait_for_port(stripe_port, self.processes["emulator"])
        self.api_proxy = self.api_proxy_class(self.emulator).start()
        self.env = self._site_env()
        self.manage("migrate", "--no-input")
        self.manage("collectstatic", "--no-input")
        self._spawn(
            "web",
            [
                *("-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{web_port}"),
                *("--workers", str(self.web_workers), "--threads", "6"),
                *("--worker-class", "gthread", "--timeout", "90", "--log-level", "warning"),
            ],
            self.env,
        )
        self._spawn(
            "worker",
            [
                *("-m", "celery", "-A", self.celery_app, "worker", "--concurrency", "2"),
                *("--loglevel", "WARNING", "--without-gossip", "--without-mingle"),
                *("-Q", ",".join(WORKER_QUEUES)),
            ],
            self.env,
        )
        wait_for_port(web_port, self.processes["web"], timeout=60)
        self._wait_healthy()
        return self

    def _site_env(self) -> dict[str, str]:
        """Production settings (DEBUG=0) on loopback, limits raised for one busy reader IP
        range; every variable config/settings.py reads that matters here."""
        server = f"redis://{self.redis['host']}:{self.redis['port']}"
        broker = f"{server}/{self.redis_db or 0}"
        cache = broker if self.redis_db is not None else f"{server}/1"
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SITE_URL": self.site,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": self.site,
            "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, no TLS proxy in front
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_PROXY_SSL_HEADER": "0",
            "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{self.db_name}",
            "DB_CONN_MAX_AGE": "60",
            "CACHE_URL": cache,
            "CELERY_BROKER_URL": broker,
            "EMAIL_URL": self.mail.url,
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_API_BASE": self.api_proxy.url if self.api_proxy else self.emulator,
            "STRIPE_JS_URL": f"{self.emulator}/js.stripe.com/v3/",
            # Each simulated reader has an address of their own in X-Forwarded-For, as
            # behind a load balancer; the gift limits are raised besides, since
            # the simulation's readers give far faster than people do.
            "NUM_PROXIES": "1",
            "DONATION_RATE_PER_IP": "100000/m",
            "DONATION_RATE_PER_EMAIL": "100000/m",
            # Card testing: every simulated reader declined uses Stripe's one test
            # card for it, which a per-card count would block for the whole run.
            "CARD_FAILURES_PER_IP": "100000/m",
            "CARD_FAILURES_PER_EMAIL": "100000/m",
            "CARD_FAILURES_PER_CARD": "0/h",
            "LOG_LEVEL": "WARNING",
        }

    def _start_redis(self) -> None:
        if self.redis_db is not None:
            self._redis().flushdb()
            return
        port = free_port()
        self.redis = {"host": "127.0.0.1", "port": port}
        self._spawn(
            "redis",
            [*("--port", str(port), "--bind", "127.0.0.1", "--save", ""), "--appendonly", "no"],
            dict(os.environ),
            program=shutil.which("redis-server") or "redis-server",
        )
        wait_for_port(port, self.processes["redis"])

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str], *, program: str = sys.executable
    ) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            [program, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, spared Ctrl-C
        )
        log.close()

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run `manage.py` with the site's environment; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.site}/healthz", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.site}/healthz did not answer 200 (logs in {self.workdir})")

    def _create_database(self) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

    def _redis(self) -> redis.Redis:
        return redis.Redis(db=self.redis_db or 0, **self.redis)

    # --- While it runs ----------------------------------------------------------------

    def queue_is_idle(self) -> bool:
        """Nothing waiting in the broker and nothing running or about to run in the worker.

        Tasks a retry scheduled for later (a failing event's backoff: 10 s, 20 s, ...
        up to an hour) do not count: waiting for them would wait for the clock.
        """
        from config.celery import app

        queue = self._redis()
        if not queue.exists("_kombu.binding.celery"):
            raise RuntimeError("the queue's bindings are gone: someone flushed the Redis database")
        if any(queue.llen(name) for name in WORKER_QUEUES):
            return False
        inspect = app.control.inspect(timeout=2.0)
        replies = [inspect.active(), inspect.reserved()]
        if any(reply is None for reply in replies):  # the worker did not answer: busy
            return False
        return not any(tasks for reply in replies for tasks in reply.values())

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} (see {self.workdir})")

    # --- Stop -------------------------------------------------------------------------

    def stop(self, *, keep_logs: bool = False, keep_db: bool = False) -> None:
        """Stop everything started, drop the database, flush Redis; safe to call twice."""
        for name, process in reversed(list(self.processes.items())):
            stop_group(process)
            del self.processes[name]
        for server in (self.chaos, self.api_proxy, self.mail):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        self.chaos = self.api_proxy = None
        if self._db_created and not keep_db:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._db_created = False
        if self.redis_db is not None:
            with contextlib.suppress(redis.RedisError):
                self._redis().flushdb()
        if not keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)
