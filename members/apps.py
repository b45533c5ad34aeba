from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"

    def ready(self) -> None:
        # Connect the receivers; register members' Stripe event handlers with payments.
        from members import handlers, signals  # noqa: F401
