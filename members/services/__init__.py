"""Writes in members, one module per subject: accounts (profile, account emails),
checkout (joining), stripe_sync (memberships kept in step with Stripe's events),
self_service, comp (complimentary memberships), gifts (gift memberships),
member_webhooks (memberships told to the newsroom's own systems), newsletters (the
lists readers choose) and supporters (the public supporters page).

Each function runs in its own transaction and takes row locks in the money core's
one order (see payments/services/__init__.py).
"""
