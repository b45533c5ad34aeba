"""What payments announces, for higher apps to follow without payments knowing them.

Sent inside the handler's transaction: a receiver's error fails the event, which
is retried, so what follows a payment is never lost.
"""

from django.dispatch import Signal

# A one-time payment succeeded; its ledger row is written.
# Arguments: donation_id (the Donation's public id, str), kind (a PaymentKind),
# campaign (the slug of the campaign it came from, "" for none).
one_time_payment_succeeded = Signal()

# A one-time payment was declined. Arguments: donation_id, kind.
one_time_payment_failed = Signal()

# A refund of a ledger row succeeded (Stripe's event says so); the payment's refunded
# total includes it. Sent after the payment's lock is released (members locks a gift
# membership before a payment), and again each time the succeeded refund is seen (a
# replayed event, or staff's request answered after the event): receivers are idempotent.
# Arguments: payment (a Payment), refund (a Refund; its ends_membership is staff's choice).
payment_refunded = Signal()
