from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from payments import handlers  # noqa: F401  (registers payments' Stripe event handlers)
        from payments.models import Payment
        from payments.services import revenue_rollup

        post_save.connect(
            revenue_rollup.count_new_payment, sender=Payment, dispatch_uid="revenue_rollup"
        )
