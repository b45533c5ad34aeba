from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"

    def ready(self) -> None:
        # Connect the receivers; register members' Stripe event handlers with payments;
        # allauth's email address admin again, its "mark verified" behind a permission.
        from members import account_admin, handlers, signals  # noqa: F401

        account_admin.register()
