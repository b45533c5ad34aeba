"""Layers run one way (payments <- members <- content), checked by import-linter."""

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    base = Path(settings.BASE_DIR)
    for name in ("config", "payments", "members", "content"):
        shutil.copytree(base / name, tmp_path / name, ignore=shutil.ignore_patterns("templates"))
    shutil.copy(base / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_apps_import_only_downwards():
    result = lint_imports(Path(settings.BASE_DIR))
    assert result.returncode == 0, result.stdout


def test_an_upward_import_from_payments_fails_the_layer_check(tmp_path):
    root = copy_of_the_project(tmp_path)
    (root / "payments" / "upward.py").write_text("from members import selectors  # noqa\n")

    result = lint_imports(root)

    assert result.returncode != 0
    assert "payments.upward -> members.selectors" in result.stdout


def test_shared_plumbing_in_config_may_not_import_an_app(tmp_path):
    root = copy_of_the_project(tmp_path)
    with (root / "config" / "forms.py").open("a") as module:
        module.write("\nfrom payments import money  # noqa\n")

    assert lint_imports(root).returncode != 0


def test_a_stripe_event_type_claimed_by_two_handlers_stops_start_up():
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from payments.services import inbox

    def another_handler(event) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match=r"invoice\.paid is claimed twice"):
        inbox.stripe_event("invoice.paid")(another_handler)
    assert inbox._handlers["invoice.paid"].__module__ == "members.handlers"


def test_each_app_registers_the_event_types_it_handles():
    from payments.services import inbox

    owners = {type: handler.__module__ for type, handler in inbox._handlers.items()}

    assert owners["payment_intent.succeeded"] == "payments.handlers"
    assert owners["charge.dispute.created"] == "payments.handlers"
    assert owners["customer.subscription.updated"] == "members.handlers"
    assert owners["invoice.payment_failed"] == "members.handlers"
