from django.core.management.base import BaseCommand

from payments.services import revenue_rollup


class Command(BaseCommand):
    help = (
        "Recompute the hourly revenue the dashboard reads from the ledger (after rows were "
        "bulk-loaded around the ledger service). Run while no payments are being recorded."
    )

    def handle(self, *args, **options) -> None:
        rows = revenue_rollup.rebuild()
        self.stdout.write(f"Hourly revenue rebuilt from the ledger: {rows} rows.")
