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
  which localstripe never does.
"""

from aiohttp import web
from localstripe import resources, server

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


server.app.router.add_post("/_config/sim/events", _record_event)
server.app.router.add_post("/_config/sim/subscriptions/{id}/status", _set_subscription_status)


if __name__ == "__main__":
    shim.main()
