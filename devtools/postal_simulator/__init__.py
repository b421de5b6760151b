"""A stand-in for the postal operator (VNPost, Viettel Post), for the demo and tests.

It speaks the protocol of ``services.postal.operator.HttpPostalOperator``:

* ``POST /v1/shipments`` (signed): takes a shipment order, idempotent by ``order_id``,
  and answers its tracking number (UPU S10 form, ``EB123456789VN``);
* ``/sim/...`` (unsigned, never expose it): move a shipment on
  (``POST /sim/shipments/<tracking>/advance`` with ``status`` ``picked_up``,
  ``delivered`` or ``returned``), which sends the signed callback to the order's
  callback URL, retried until it is acknowledged; send an earlier callback again
  (``POST /sim/shipments/<tracking>/replay/<event_id>``: a duplicate, or news out of
  order); send every callback ``duplicates`` extra times (``POST /sim/config``); and
  what it holds (``GET /sim/shipments``).

Orders and tracking events live in memory and in a JSON-lines journal
(``journal.jsonl`` under ``<var_dir>/postal-sim``), replayed on start. Run:
``python -m devtools.postal_simulator``.
"""

from devtools.postal_simulator.app import PostalSim, create_app

__all__ = ["PostalSim", "create_app"]
