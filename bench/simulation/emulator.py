"""The Stripe emulator for the simulation: the test suite's localstripe shim, plus what
the simulation needs to play the parts of Stripe that localstripe does not have.

Run as `python -m bench.simulation.emulator --port P --from-scratch --webhook URL`
(the shim's own command line). On top of the shim it:

- keeps its store in memory only (the shim's default, given no `--state-file`):
  localstripe would pickle the whole store on every write, which grows quadratic
  over a thousand lifecycles, and the simulation never reloads it;
- `POST /_config/sim/events {"type", "object", "api_version"}` keeps an event the
  simulation made (a refund, a dispute, a subscription update: localstripe sends
  none of these) in its events list, so `reconcile_stripe` finds it like any other,
  and answers it; the simulation signs and delivers it itself;
- `POST /_config/sim/subscriptions/{id}/status {"status"}` sets a subscription's
  status as Stripe's billing engine does after a declined renewal (`past_due`),
  which localstripe never does;
- `POST /_config/sim/webhooks {"paused": true}` drops the events that happen until
  `{"paused": false}`, undelivered (the bench makes thousands of paid charges that way,
  and sends their events itself);
- lists objects of one type without scanning the whole store: localstripe lists every
  object of the store to find, say, a charge's refunds, which it does several times
  for every charge it makes or answers, so each took longer as the store grew (130 ms
  a payment at 3,000 charges; the bench makes 10,000).
"""

from aiohttp import web
from localstripe import resources, server, webhooks
from localstripe.errors import UserError

from tests.support import localstripe_shim as shim


class _Given:
    """An object given as JSON, for localstripe's Event (which exports what it wraps)."""

    def __init__(self, obj: dict) -> None:
        self.obj = obj

    def _export(self) -> dict:
        return self.obj


async def _record_event(request: web.Request) -> web.Response:
    data = await request.json()
    event = resources.Event(data["type"], _Given(data["object"]))
    event.api_version = data.get("api_version") or event.api_version
    return web.json_response(event._export())


async def _set_subscription_status(request: web.Request) -> web.Response:
    data = await request.json()
    subscription = resources.Subscription._api_retrieve(request.match_info["id"])
    subscription.status = data["status"]
    return web.json_response(subscription._export())


# --- Objects by type, for localstripe's lists ----------------------------------------

_by_type: dict[str, dict[str, object]] = {}
_store_set, _store_del = resources.Store.__setitem__, resources.Store.__delitem__


def _set(store, key, value) -> None:
    _store_set(store, key, value)
    _by_type.setdefault(key.partition(":")[0], {})[key] = value


def _del(store, key) -> None:
    _store_del(store, key)
    _by_type.get(key.partition(":")[0], {}).pop(key, None)


def _of_type(object_type: str) -> list:
    """The store's objects of one type, in the store's order (as localstripe lists them)."""
    if sum(map(len, _by_type.values())) != len(resources.store):  # filled around _set
        _by_type.clear()
        for key, value in resources.store.items():
            _by_type.setdefault(key.partition(":")[0], {})[key] = value
    return list(_by_type.get(object_type, {}).values())


def _list_all(cls, url, limit=None, starting_after=None, **kwargs):
    """localstripe's StripeObject._api_list_all, without the scan of the whole store."""
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    listed = resources.List(url, limit=limit, starting_after=starting_after)
    listed._list = _of_type(cls.object)
    return listed


resources.Store.__setitem__ = _set
resources.Store.__delitem__ = _del
resources.StripeObject._api_list_all = classmethod(_list_all)


# --- Deliveries paused ---------------------------------------------------------------

_webhooks_paused = False
_deliver = webhooks._send_webhook


async def _deliver_unless_paused(event) -> None:
    if not _webhooks_paused:
        await _deliver(event)


async def _pause_webhooks(request: web.Request) -> web.Response:
    global _webhooks_paused
    _webhooks_paused = bool((await request.json()).get("paused"))
    return web.json_response({"paused": _webhooks_paused})


webhooks._send_webhook = _deliver_unless_paused
server.app.router.add_post("/_config/sim/webhooks", _pause_webhooks)
server.app.router.add_post("/_config/sim/events", _record_event)
server.app.router.add_post("/_config/sim/subscriptions/{id}/status", _set_subscription_status)


if __name__ == "__main__":
    shim.main()
