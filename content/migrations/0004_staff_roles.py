"""Staff roles: the groups Finance, Membership and Editorial with their permissions.

A newsroom makes a staff member's account staff and adds it to one or more of these
groups (README, "Staff roles"). Superusers change the groups in admin if they must;
running this again only adds what is missing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def _view(app_label: str, *models: str) -> list[str]:
    return [f"{app_label}.view_{model}" for model in models]


def _manage(app_label: str, *models: str) -> list[str]:
    return [
        f"{app_label}.{action}_{model}"
        for model in models
        for action in ("view", "add", "change", "delete")
    ]


ROLES = {
    # All money: the ledger and everything about it, refunds, receipts, the webhook
    # inbox, card-testing blocks, figures and CSV exports; people read-only, and their
    # data-protection export.
    "Finance": [
        *_view(
            "payments",
            "payment",
            "donation",
            "donor",
            "refund",
            "dispute",
            "receipt",
            "stripeevent",
            "suggestedamount",
            "cardtestingblock",
            "cardcheckfailure",
        ),
        "payments.add_suggestedamount",
        "payments.change_suggestedamount",
        "payments.add_refund",  # the refund form (PaymentAdmin.refund_view)
        "payments.resend_receipt",
        "payments.view_revenue",
        "payments.export_csv",
        "payments.reprocess_stripeevent",
        "payments.lift_cardtestingblock",
        *_view("members", "membership", "giftmembership", "user"),
        "members.export_personal_data",
    ],
    # Members: memberships (comp grants, ending them), accounts, gift memberships,
    # levels and newsletters; a member's giving history and receipts, and the figures.
    # No refunds, no exports of the ledger.
    "Membership": [
        *_view("members", "membership", "user", "giftmembership", "membershiplevel"),
        *_view("members", "levelamount", "newsletter"),
        "members.add_membership",  # a complimentary membership
        "members.change_membership",  # end now, cancel at period end, the note
        "members.change_user",
        "members.change_newsletter",
        "members.export_subscribers",
        *_view("payments", "payment", "donor", "receipt"),
        "payments.resend_receipt",
        "payments.view_revenue",
    ],
    # Articles and campaigns, and the figures read-only: nothing about people or money.
    "Editorial": [
        *_manage("content", "article", "articledocument", "campaign"),
        "payments.view_revenue",
    ],
}


def create_roles(apps, schema_editor):
    # On a fresh database the permissions are made after every migration (post_migrate):
    # make them now, as of this migration's models.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    add_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def add_roles(Group, Permission) -> None:
    """Each group with at least its permissions (a missing permission fails loudly)."""
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for permission in permissions:
            app_label, codename = permission.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("content", "0003_campaigns"),
        ("members", "0009_gift_refunded"),
        ("payments", "0009_revenue_permissions_refund_note"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
