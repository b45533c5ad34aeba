"""CI's dependency audit (.ci/audit_dependencies.py): what fails the build and what not.

pip-audit and PyPI are replaced here by their answers, so these tests need no network.
"""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "audit_dependencies.py"


def load_audit():
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = load_audit()


def advisory(id_: str, fixed_in=(), aliases=(), withdrawn=None) -> dict:
    return {"id": id_, "fixed_in": list(fixed_in), "aliases": list(aliases), "withdrawn": withdrawn}


def project(latest: str, *vulns: dict) -> dict:
    return {"info": {"version": latest}, "vulnerabilities": list(vulns)}


@pytest.fixture
def lock(tmp_path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("Django==5.2.19\nboolean.py==5.0\n")
    return path


@pytest.fixture
def nothing_ignored(tmp_path) -> Path:
    path = tmp_path / "audit-ignore.txt"
    path.write_text("# nothing\n")
    return path


def pip_audit_skipping_everything(lock) -> dict:
    """What pip-audit answers where PyPI's per-release address does not (as here)."""
    return {
        "dependencies": [
            {"name": "django", "skip_reason": "Dependency not found on PyPI"},
            {"name": "boolean-py", "skip_reason": "Dependency not found on PyPI"},
        ]
    }


def test_a_vulnerability_pip_audit_reports_fails_the_audit(
    monkeypatch, lock, nothing_ignored, capsys
):
    report = {
        "dependencies": [
            {
                "name": "django",
                "version": "5.2.19",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.20"], "aliases": []}],
            },
            {"name": "boolean-py", "version": "5.0", "vulns": []},
        ]
    }
    monkeypatch.setattr(audit, "run_pip_audit", lambda lock: report)
    assert audit.main(lock, nothing_ignored) == 1
    assert "VULNERABLE  django==5.2.19: PYSEC-1" in capsys.readouterr().out


def test_a_clean_lock_passes(monkeypatch, lock, nothing_ignored):
    monkeypatch.setattr(audit, "run_pip_audit", pip_audit_skipping_everything)
    monkeypatch.setattr(
        audit, "fetch_project", lambda name: project("5.0" if name == "boolean.py" else "6.1.3")
    )
    assert audit.main(lock, nothing_ignored) == 0


def test_an_advisory_open_in_the_latest_release_fails_an_older_pin_on_the_same_line(
    monkeypatch, lock, nothing_ignored, capsys
):
    monkeypatch.setattr(audit, "run_pip_audit", pip_audit_skipping_everything)
    monkeypatch.setattr(
        audit,
        "fetch_project",
        lambda name: (
            project("5.0")
            if name == "boolean.py"
            else project("6.1.3", advisory("GHSA-x", fixed_in=["5.2.20", "6.1.4"]))
        ),
    )
    assert audit.main(lock, nothing_ignored) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE  Django==5.2.19: GHSA-x" in out
    assert "Partly checked" in out and "Django==5.2.19 (latest 6.1.3)" in out


def test_an_ignored_advisory_with_its_reason_passes(monkeypatch, lock, tmp_path, capsys):
    ignore = tmp_path / "audit-ignore.txt"
    ignore.write_text("CVE-2099-1  # only reachable through a feature we never call\n")
    monkeypatch.setattr(audit, "run_pip_audit", pip_audit_skipping_everything)
    monkeypatch.setattr(
        audit,
        "fetch_project",
        lambda name: (
            project("5.0", advisory("PYSEC-9", aliases=["CVE-2099-1"]))
            if name == "boolean.py"
            else project("6.1.3")
        ),
    )
    assert audit.main(lock, ignore) == 0
    assert "feature we never call" in capsys.readouterr().out


def test_an_ignored_advisory_without_a_reason_is_refused(tmp_path):
    ignore = tmp_path / "audit-ignore.txt"
    ignore.write_text("CVE-2099-1\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        audit.read_ignore_list(ignore)


def test_a_pin_that_cannot_be_looked_up_fails_the_audit(monkeypatch, lock, nothing_ignored):
    def unreachable(name):
        raise OSError("Name or service not known")

    monkeypatch.setattr(audit, "run_pip_audit", pip_audit_skipping_everything)
    monkeypatch.setattr(audit, "fetch_project", unreachable)
    assert audit.main(lock, nothing_ignored) == 1


@pytest.mark.parametrize(
    ("pin", "latest", "fixed_in", "affected"),
    [
        ("1.0", "1.0", [], True),  # the latest release itself: exact
        ("5.2.19", "6.1.3", ["5.2.19", "6.1.4"], False),  # fixed on the pin's line
        ("5.2.19", "6.1.3", ["4.2.30"], True),  # fixed only on an older line
        ("5.2.19", "6.1.3", [], True),  # no fix anywhere
    ],
)
def test_whether_an_open_advisory_of_the_latest_release_counts_for_a_pin(
    pin, latest, fixed_in, affected
):
    assert audit.affects(pin, latest, fixed_in) is affected


def test_withdrawn_advisories_do_not_count():
    found = audit.findings_from_project(
        "x", "1.0", project("1.0", advisory("GHSA-w", withdrawn="2026-01-01"))
    )
    assert found == []
