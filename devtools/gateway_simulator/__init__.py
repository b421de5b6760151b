"""A stand-in for the national payment platform, for staging, the demo and tests.

No real gateway (VNPay, the national payment platform) can be called from a laptop or
a CI machine, yet the payment service must be exercised against the ugly parts of one:
callbacks that arrive twice, late, out of order or never, a receiver that must verify
signatures, refunds, and a settlement file that disagrees with the merchant's records.
This process speaks the signed-callback protocol of ``services.payment.gateway`` and
misbehaves on request:

* ``POST /v1/orders``, ``POST /v1/refunds``, ``GET /v1/settlements/YYYY-MM-DD``: the
  merchant's side of the protocol, signed like a real gateway expects;
* ``GET /pay/<order_id>``: the hosted page where the applicant approves or declines;
* ``/sim/...`` (unsigned, never expose it): duplicates, delay, shuffling and lost
  callbacks (``/sim/config``), settlement mismatches (``/sim/settlement-adjustments``),
  and what happened (``/sim/orders/<order_id>``, ``/sim/callbacks``).

State lives in memory and in a JSON-lines journal (``journal.jsonl`` in the folder
given, ``var/gateway-sim`` by default), replayed on start, so a restart keeps orders,
transactions and refunds and sends again the callbacks that were never acknowledged.
The behaviour settings are not journaled: after a restart they come from the
environment again. Run: ``python -m devtools.gateway_simulator``.

The package: ``models`` (the records and the behaviour settings), ``books`` (the
state and its journal), ``simulator`` (the protocol's rules over the books),
``callbacks`` (sending callbacks to the merchant), ``page`` (the hosted page), ``app``
(the HTTP routes) and ``__main__`` (the process).
"""

from devtools.gateway_simulator.app import create_app
from devtools.gateway_simulator.models import SimConfig
from devtools.gateway_simulator.simulator import Simulator

__all__ = ["SimConfig", "Simulator", "create_app"]
