"""CI: the locked dependencies (requirements.lock) checked for known vulnerabilities.

    python .ci/audit_dependencies.py [requirements.lock]

Exits 1 when a pinned release has a known vulnerability that .ci/audit-ignore.txt does
not list (with its reason), or when a pin could not be checked at all; 0 otherwise.

First pip-audit, on exactly the lock (`--no-deps --disable-pip`: nothing resolved or
installed), against PyPI's advisories for each pinned release
(https://pypi.org/pypi/NAME/VERSION/json). Where that per-release address does not
answer (this workplace's PyPI serves only the per-project one), each skipped pin is
checked against PyPI's per-project answer, whose advisories are those of the *latest*
release: exact for a pin that is the latest release; for an older pin, every advisory
still open in the latest release counts unless it was fixed on the pin's own release line
(same major.minor) at or before the pin. An advisory fixed in a release between the pin
and the latest is not seen that way: those pins are named as "partly checked".
"""

import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
IGNORE_FILE = HERE / "audit-ignore.txt"
PYPI_PROJECT = "https://pypi.org/pypi/{name}/json"
TIMEOUT_SECONDS = 30


@dataclass
class Finding:
    name: str
    version: str
    advisory: str
    aliases: list[str] = field(default_factory=list)
    fixed_in: list[str] = field(default_factory=list)

    def ids(self) -> set[str]:
        return {self.advisory, *self.aliases}

    def __str__(self) -> str:
        fix = ", ".join(self.fixed_in) or "no fixed release yet"
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.name}=={self.version}: {self.advisory}{also}; fixed in: {fix}"


def same(one: Finding, other: Finding) -> bool:
    """One advisory under two ids (PYSEC and GHSA name the same CVE) is reported once."""
    return (one.name, one.version) == (other.name, other.version) and bool(one.ids() & other.ids())


def read_ignore_list(path: Path) -> dict[str, str]:
    """Advisory id -> reason, from lines `ID  # why it does not apply / what we do`.

    A line without a reason is refused: an ignored advisory must say why."""
    ignored: dict[str, str] = {}
    if not path.exists():
        return ignored
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        advisory, _, reason = text.partition("#")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: {advisory.strip()} needs a reason after '#'")
        ignored[advisory.strip()] = reason.strip()
    return ignored


def read_pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line of the lock."""
    pins = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if "==" in text:
            name, _, version = text.partition("==")
            pins[name.strip()] = version.strip()
    return pins


def run_pip_audit(lock: Path) -> dict:
    """pip-audit's JSON report on exactly the lock, every advisory in it (the ignored ones
    are set aside, with their reasons, by `main`)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            *(sys.executable, "-m", "pip_audit", "-r", str(lock)),
            *("--no-deps", "--disable-pip", "--progress-spinner", "off"),
            *("--format", "json", "--output", str(report)),
        ]
        # Its own summary would say "no known vulnerabilities" even with every pin skipped.
        ran = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
        if not report.exists():
            raise SystemExit(f"pip-audit wrote no report:\n{ran.stdout}{ran.stderr}")
        return json.loads(report.read_text())


def findings_from_pip_audit(report: dict) -> tuple[list[Finding], list[str]]:
    """What pip-audit found, and the names of the pins it could not look up."""
    found, skipped = [], []
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped.append(dependency["name"])
            continue
        for vuln in dependency.get("vulns", []):
            found.append(
                Finding(
                    dependency["name"],
                    dependency["version"],
                    vuln["id"],
                    vuln.get("aliases", []),
                    vuln.get("fix_versions", []),
                )
            )
    return found, skipped


def affects(pin: str, latest: str, fixed_in: list[str]) -> bool:
    """Whether an advisory open in the `latest` release is taken to affect `pin` too."""
    if pin == latest:
        return True
    try:
        pinned = Version(pin)
        fixes = [Version(fix) for fix in fixed_in]
    except InvalidVersion:
        return True  # cannot tell: count it
    return not any(fix <= pinned and fix.release[:2] == pinned.release[:2] for fix in fixes)


def findings_from_project(name: str, pin: str, project: dict) -> list[Finding]:
    """The advisories of the project's latest release that are taken to affect `pin`."""
    latest = project["info"]["version"]
    return [
        Finding(name, pin, vuln["id"], vuln.get("aliases") or [], vuln.get("fixed_in") or [])
        for vuln in project.get("vulnerabilities") or []
        if not vuln.get("withdrawn") and affects(pin, latest, vuln.get("fixed_in") or [])
    ]


def canonical(name: str) -> str:
    """PEP 503's form of a project name (`boolean.py` and `boolean-py` are one project)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def fetch_project(name: str) -> dict:
    url = PYPI_PROJECT.format(name=name)
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - https
        return json.load(answer)


def main(lock: Path, ignore_file: Path = IGNORE_FILE) -> int:
    ignored = read_ignore_list(ignore_file)
    pins = read_pins(lock)
    found, skipped = findings_from_pip_audit(run_pip_audit(lock))
    unchecked, partly = [], []
    pins_by_name = {canonical(name): (name, version) for name, version in pins.items()}
    fallback = [pins_by_name.get(canonical(name), (name, "")) for name in skipped]

    def fetch(name: str) -> dict | OSError:
        try:
            return fetch_project(name)
        except OSError as error:
            return error

    with ThreadPoolExecutor(max_workers=8) as pool:
        projects = pool.map(fetch, [name for name, _ in fallback])
    for (name, pin), project in zip(fallback, projects, strict=True):
        if isinstance(project, OSError):
            unchecked.append(f"{name}: {project}")
            continue
        found += findings_from_project(name, pin, project)
        if project["info"]["version"] != pin:
            partly.append(f"{name}=={pin} (latest {project['info']['version']})")

    found = [f for n, f in enumerate(found) if not any(same(f, g) for g in found[:n])]
    counted = [f for f in found if not f.ids() & ignored.keys()]
    for finding in found:
        if finding not in counted:
            reason = next(ignored[i] for i in finding.ids() if i in ignored)
            print(f"ignored  {finding}  -- {reason}")
    checked = len(pins) - len(unchecked)
    print(
        f"Dependency audit: {checked} of {len(pins)} pins checked "
        f"({len(skipped)} through PyPI's per-project advisories), "
        f"{len(counted)} known vulnerabilities, {len(found) - len(counted)} ignored."
    )
    if partly:
        print(
            "Partly checked (older than the latest release: only advisories still open "
            "in the latest are seen): " + ", ".join(partly)
        )
    for finding in counted:
        print(f"VULNERABLE  {finding}")
    for line in unchecked:
        print(f"NOT CHECKED  {line}")
    if counted:
        print(
            "Upgrade the pin (requirements.lock), or list the advisory id in "
            f"{ignore_file.name} (beside this script) with the reason it does not apply."
        )
    return 1 if counted or unchecked else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock")))
