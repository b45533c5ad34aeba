"""`make run`'s last word: once the site and the Stripe emulator answer (so after every
process's start-up lines), the address to open and the staff sign-in, in a block that
does not scroll away unseen. Then it waits, as a Procfile process must: honcho stops
them all when one ends.

Run by Procfile.dev as `python -m config.dev_ready`, with SITE_URL and STRIPE_API_BASE.
"""

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# What `manage.py demo_data` makes (content/management/commands/demo_data.py)
STAFF_EMAIL = "staff@example.org"
PASSWORD_FILE = Path(__file__).resolve().parent.parent / "var" / "staff-password"
RULE = "=" * 72


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http:// URLs)
            return True
    except urllib.error.HTTPError:  # an answer all the same
        return True
    except OSError:
        return False


def banner(site_url: str, password: str) -> str:
    return "\n".join(
        [
            RULE,
            f"  Patronage is running: open {site_url}/",
            f"  Staff sign-in ({site_url}/admin/):",
            f"      email     {STAFF_EMAIL}",
            f"      password  {password}   (kept in var/staff-password)",
            "  Emails are printed here. Ctrl-C stops everything; `make clean` starts over.",
            RULE,
        ]
    )


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    site_url = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    waited_for = [f"{site_url}/healthz", os.environ.get("STRIPE_API_BASE", "")]
    while not all(answers(url) for url in waited_for if url):
        time.sleep(0.5)
    time.sleep(1)  # the last start-up lines of the others first
    password = PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else "(none yet)"
    print(banner(site_url, password), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
