"""The national portal seen from motcua: one interface, and the HTTP protocol of the sim.

``Portal`` is what the sync needs from the National Public Service Portal: send a
dossier's record (create or replace it, as the portal's ``DongBoHoSoMC`` does) and
read back what the portal holds for a code (for the reconciliation). Each send carries
an idempotency key, ``<code>:<version>``: sent twice (a retry after a lost answer, a
restart mid-call) it is applied once, and a version older than the one the portal has
is ignored, so the portal never goes backwards.

``HttpPortal`` speaks the protocol the bundled simulator (``devtools.portal_simulator``)
serves:

* ``POST /DongBoHoSoMC`` with the record as JSON (``PhienBan`` its version) and the
  headers ``X-Api-Key`` and ``Idempotency-Key``; 2xx is applied (or already was);
* ``GET /TraCuuHoSo/<code>``: the record the portal holds, 404 if none.

The province's real portal connection (its LGSP gateway, its token) is plugged in by
writing a class with the same methods and naming it in ``MOTCUA_PORTAL_ADAPTER_CLASS``
(``package.module:Class``, built with the portal settings); see the README.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from motcua.core.imports import import_object
from services.portal.settings import PortalSettings


class PortalError(Exception):
    """The portal did not take the record; the sync retries it later."""


class PortalUnavailable(PortalError):
    """Not reached, timed out, or a 5xx/429: the portal's trouble, not the record's."""


class PortalRejected(PortalError):
    """A 4xx: the portal refuses the record as sent (logged and retried, with backoff)."""


class Portal(Protocol):
    def send(self, record: dict[str, Any], key: str) -> None: ...

    def fetch(self, code: str) -> dict[str, Any] | None: ...


class HttpPortal:
    def __init__(self, settings: PortalSettings) -> None:
        self.client = httpx.Client(
            base_url=settings.portal_url.rstrip("/"),
            timeout=settings.portal_timeout_seconds,
            headers={"X-Api-Key": settings.portal_api_key.get_secret_value()},
        )

    def send(self, record: dict[str, Any], key: str) -> None:
        response = self._call(
            "POST", "/DongBoHoSoMC", json=record, headers={"Idempotency-Key": key}
        )
        if response.status_code >= 300:
            raise _error(response)

    def fetch(self, code: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/TraCuuHoSo/{code}")
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise _error(response)
        held: dict[str, Any] = response.json()
        return held

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise PortalUnavailable(f"{method} {path}: {error!r}") from None

    def close(self) -> None:
        self.client.close()


def _error(response: httpx.Response) -> PortalError:
    text = f"{response.request.method} {response.request.url.path}: {response.status_code} "
    text += response.text[:200]
    if response.status_code >= 500 or response.status_code == 429:
        return PortalUnavailable(text)
    return PortalRejected(text)


def load_portal(settings: PortalSettings) -> Portal:
    """The adapter the settings name (``HttpPortal`` unless another class is given)."""
    if not settings.portal_adapter_class:
        return HttpPortal(settings)
    portal: Portal = import_object(settings.portal_adapter_class)(settings)
    return portal
