"""Charges whose fee Stripe has not settled yet, on demand (see the localstripe shim).

On current API versions a charge may succeed before its balance transaction
exists; Stripe sends `charge.updated` once it does. The shim settles each charge
on the event loop's next turn; inside `charges_settle_later` it holds them, and
settles every one held when the block ends.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import requests


def _hold(api_base: str, hold: bool) -> None:
    response = requests.post(f"{api_base}/_config/settlement", json={"hold": hold}, timeout=5)
    response.raise_for_status()


@contextmanager
def charges_settle_later(api_base: str) -> Iterator[None]:
    """Charges made in the block have no balance transaction until it ends."""
    _hold(api_base, True)
    try:
        yield
    finally:
        _hold(api_base, False)
