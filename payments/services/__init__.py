"""Writes in payments, one module per subject: donors, donations, the card a page
entered (cards), the ledger, refunds (and disputes), the inbox.

Stripe is reached only through `stripe_gateway`; its idempotency keys are derived
from our own records (never from a database id that a rolled-back transaction
could hand out twice), so a retried or doubled request happens once.

No lock is held while Stripe is asked anything (a slow Stripe, 15 s a try and its
retries, would keep rows locked past a task's time limit). Every service reads
and writes Stripe first, from the rows as read without a lock; then it takes the
lock (`select_for_update(of=("self",))`, in the order below), checks the state
again and applies Stripe's answer, relying on the forward-only state machines
(payments/states.py, members/states.py) and on `stripe_synced_at` for snapshots
of a subscription. An answer overtaken meanwhile (a newer card attempt, another
request's subscription) is not applied. Anything more to ask Stripe afterwards
(closing a gift for card testing) happens after the lock is
released, and is applied under a new one. Callers call services with no
transaction open. The test suite's Stripe recorder fails any test during which a
Stripe request leaves while its thread's transaction holds a row lock
(tests/support/stripe_contract.py); on PostgreSQL a lock wait gives up after
DB_LOCK_TIMEOUT_MS.

Lock order. Every service, handler and task of the money core takes row locks
in this one order, and locks only the rows it changes
(`select_for_update(of=("self",))`, never a joined chain), so two of them can
never wait on each other in a circle:

    Stripe event → membership → gift membership → donor → donation
        → payment → refund → dispute → receipt

Failed card checks are counted last (`payments.card_testing`: a lock per source,
then the block's row), after the gift or membership they belong to; admin's
"lift" takes only block rows.

Receipts and refund notices are claimed in a transaction of their own (see
`payments.emails`), so nothing is locked while an email is sent.
"""
