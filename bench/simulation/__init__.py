"""The chaos simulation's parts (run by bench/simulate.py), one concern each:

- stack.py: PostgreSQL, Redis, gunicorn, the Celery worker and the emulator on loopback;
- emulator.py: the Stripe emulator (the test suite's shim) and the simulation's hooks;
- chaos.py: the proxy that drops, delays and duplicates webhook deliveries;
- mailbox.py: the mail server the site sends to;
- browser.py: a reader's browser (cookies, CSRF, the pages' calls, allauth);
- stripe_side.py: what Stripe does on its own (renewals, refunds, disputes, events);
- journeys.py: the lifecycles of readers, members, givers and staff;
- checks.py: the books against Stripe, and the printed report.
"""
