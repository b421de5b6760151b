"""A stand-in for the National Public Service Portal's sync API, for the demo and tests.

No test machine can reach the national portal, yet the sync must be exercised against
the ugly parts of one: outages, slowness, and answers lost after the call was applied
(so the same call comes again). This process speaks the protocol of
``services.portal.adapter.HttpPortal`` and misbehaves on request:

* ``POST /DongBoHoSoMC``: a dossier's record, with ``X-Api-Key`` and
  ``Idempotency-Key``; a key seen before is answered without applying it again, and a
  version older than the one held is ignored;
* ``GET /TraCuuHoSo/<code>``: the record held for a code;
* ``/sim/...`` (no key; never expose it): the behaviour (``/sim/config``: ``ok``,
  ``fail`` answers 503, ``slow`` waits ``delay_seconds`` first, ``twice`` applies a
  call and then answers 503 the first time, so the caller sends it again), what it
  holds (``/sim/records``) and every call it received (``/sim/calls``).

What it applied lives in memory and in a JSON-lines journal (``journal.jsonl`` under
``<var_dir>/portal-sim``), replayed on start. Run: ``python -m devtools.portal_simulator``.
"""

from devtools.portal_simulator.app import PortalSim, create_app

__all__ = ["PortalSim", "create_app"]
