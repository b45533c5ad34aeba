"""payments 0014: failed card checks still counting move to counting by network (an IPv6
address's /64), so a block in the making is not forgotten by the upgrade."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("payments", "0013_admin_search_indexes")]
AFTER = [("payments", "0014_card_failures_per_network")]


@pytest.mark.django_db(transaction=True)
def test_the_failures_still_counting_count_by_their_network_after_the_upgrade():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    failures = executor.loader.project_state(BEFORE).apps.get_model("payments", "CardCheckFailure")
    for key, ip in [("v6", "2001:db8:7:7::5"), ("v4", "198.51.100.7"), ("none", None)]:
        failures.objects.create(
            key=key, stage="payment", start="gift test", client_ip=ip, created_at=timezone.now()
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    failures = executor.loader.project_state(AFTER).apps.get_model("payments", "CardCheckFailure")

    assert dict(failures.objects.values_list("key", "client_network")) == {
        "v6": "2001:db8:7:7::/64",
        "v4": "198.51.100.7",
        "none": "",
    }
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
