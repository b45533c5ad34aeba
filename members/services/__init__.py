"""Writes in members, one module per subject: accounts (profile, account emails),
checkout (joining), stripe_sync (memberships kept in step with Stripe's events),
self_service, comp (complimentary memberships) and gifts (gift memberships).

Each function runs in its own transaction and takes row locks in the money core's
one order (see payments/services/__init__.py).
"""
