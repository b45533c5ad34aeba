"""Staff views of money, a module per subject; importing this package registers them."""

from payments.admin import card_testing, donors, inbox, ledger  # noqa: F401
