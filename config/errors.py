"""Refusals: a request turned down for a reason the reader may read.

Services raise `Refused("The smallest gift is $1.00.", field="amount")`; a form shows
it on the field, a JSON endpoint answers 400 with it (see `payments.pages.json_endpoint`,
which also turns Stripe's failures into 502). `TooManyAttempts` is the rate limit's 429.
"""


class Refused(Exception):
    """Turned down, and nothing changed. `field` names the input it is about (None: the
    request as a whole); `extra` is more for the page's script (e.g. a challenge to pass)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def as_json(self) -> dict:
        if self.field:
            return {"errors": {self.field: [self.message]}, **self.extra}
        return {"error": self.message, **self.extra}


TOO_MANY = "Too many attempts. Please wait a few minutes and try again."


class TooManyAttempts(Refused):
    status = 429

    def __init__(self, message: str = TOO_MANY, **extra: object) -> None:
        super().__init__(message, **extra)
