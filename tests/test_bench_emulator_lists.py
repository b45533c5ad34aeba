"""The bench's emulator lists one type of object without scanning localstripe's whole
store (bench/simulation/emulator.py), and lists the same objects as localstripe did.

Run in a process of its own: the emulator module patches localstripe where it loads.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import bench.simulation.emulator
from localstripe import resources

card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
method = resources.PaymentMethod(type="card", card=card)
intents = [
    resources.PaymentIntent._api_create(
        amount=1000 + n, currency="eur", payment_method=method.id, confirm=True
    )
    for n in range(5)
]
charge = intents[2].latest_charge
resources.Refund(charge=charge.id, amount=300)


def scanned(store):
    raise AssertionError("listed by scanning the whole store")


resources.Store.items = scanned
listed = resources.PaymentIntent._api_list_all("/v1/payment_intents")._list
assert [i.id for i in listed] == [i.id for i in intents], listed
assert [r.amount for r in charge.refunds._list] == [300]
assert intents[1].latest_charge.refunds._list == []
assert charge.amount_refunded == 300
del resources.store["payment_intent:" + intents[0].id]
assert len(resources.PaymentIntent._api_list_all("/v1/payment_intents")._list) == 4
print("ok")
"""


def test_lists_hold_the_objects_of_their_type_in_order_and_follow_deletions():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
