from django.db import models

from payments.currencies import currency_choices
from payments.money import Money


class SuggestedAmount(models.Model):
    """A one-click amount on the "Support us just once" page, per currency.

    Staff edit these in admin; readers may always type their own amount too.
    """

    currency = models.CharField(max_length=3, choices=currency_choices)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit (cents).")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower shows first.")
    is_default = models.BooleanField(default=False, help_text="Preselected on the page.")

    class Meta:
        ordering = ["currency", "position", "amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "amount"], name="payments_suggested_amount_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payments_suggested_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return Money(self.amount, self.currency).format()
