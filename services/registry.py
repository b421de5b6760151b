"""Every service of motcua, in one place: what serve, the stack, republish, the audit,
the AsyncAPI export and the tests read instead of typing the names again.

An entry names the service's composition root (``services/<name>/main.py``), which
every root shapes alike (``Root``): ``build_application(settings)`` builds the store and
the application without starting anything, ``create_app(settings)`` the HTTP app with
its workers (in ``app.state.workers``: the AsyncAPI document is generated from their
brokers), ``to_contract(app)`` maps its stored events to ``dossier-events`` (None for a
service that publishes nothing there); a root may add ``start_problem(settings)``, what
it checks of its own settings before ``serve`` starts it (workflow: its signing keys).
Roots are imported only when asked for: a process serving one service does not import
the others (nor, say, workflow's PDF signer).

Adding a service: its folder with those three functions, an entry here, and a
``<name>_port`` setting in ``motcua/runtime/settings.py`` (a test checks each entry has
one, and that no two services share a port).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from motcua.core.imports import import_object

if TYPE_CHECKING:
    from eventsourcing.application import Application
    from fastapi import FastAPI
    from pydantic_settings import BaseSettings

    from motcua.runtime.mapping import ToContract
    from motcua.runtime.settings import Settings
    from motcua.runtime.store import Store


class Root(Protocol):
    """What a service's composition root module provides."""

    def build_application(self, settings: Settings) -> Any: ...

    def create_app(self, settings: Settings) -> FastAPI: ...

    def to_contract(self, app: Any) -> ToContract | None: ...


@dataclass(frozen=True)
class Companion:
    """A development stand-in for an outside system, which the embedded stack starts
    beside the service unless the service's settings name the real system: one of the
    fields ``replaced_by`` of its settings class (``settings``, as ``module:Class``) is
    set, to something not empty."""

    name: str
    module: str
    settings: str
    replaced_by: tuple[str, ...]

    def load_settings(self) -> BaseSettings:
        """The service's settings, as its process reads them (from the environment)."""
        return cast("BaseSettings", import_object(self.settings)())

    def replaced(self, settings: BaseSettings | None = None) -> bool:
        """Whether ``settings`` (by default ``load_settings()``) name the real system.

        Set, not merely defaulted: the defaults are the stand-in's own address."""
        given = self.load_settings() if settings is None else settings
        return any(
            name in given.model_fields_set and bool(getattr(given, name))
            for name in self.replaced_by
        )


@dataclass(frozen=True)
class Service:
    name: str
    summary: str
    # The topics it publishes, by the setting that names them.
    publishes: tuple[str, ...] = ()
    consumes: bool = True
    companion: Companion | None = None

    @property
    def root(self) -> Root:
        return cast(Root, importlib.import_module(f"services.{self.name}.main"))

    @property
    def publishes_dossier_events(self) -> bool:
        return "dossier_topic" in self.publishes

    def port(self, settings: Settings) -> int:
        return settings.port_of(self.name)

    def start_problem(self, settings: Settings) -> str | None:
        """Why the service must not start with ``settings`` (its root's check, if any)."""
        check = getattr(self.root, "start_problem", None)
        return cast("str | None", check(settings)) if check is not None else None


SERVICES: tuple[Service, ...] = (
    Service(
        "intake",
        "submission, acceptance, dossier codes and appointments, lookup, ratings",
        publishes=("dossier_topic",),
    ),
    Service(
        "workflow",
        "the electronic process across agencies on the statutory clock, results",
        publishes=("dossier_topic",),
    ),
    Service(
        "payment",
        "fees, online payment through the gateway, receipts, refunds, reconciliation",
        publishes=("dossier_topic",),
        companion=Companion(
            "gateway-sim",
            "devtools.gateway_simulator",
            "services.payment.settings:PaymentSettings",
            ("payment_gateway_url",),
        ),
    ),
    Service(
        "notify",
        "notices to applicants by e-mail, SMS and webhook, once each",
        publishes=("dossier_topic",),
        companion=Companion(
            "sinks",
            "devtools.sinks",
            "services.notify.settings:NotifySettings",
            ("smtp_host", "sms_url"),
        ),
    ),
    Service("stats", "the published figures (S-1, S-2), replayable from the topic"),
    Service(
        "interagency",
        "curated feeds for the ministries' systems",
        publishes=("interagency_topic",),
    ),
    Service(
        "portal",
        "each dossier's record and progress sent to the National Public Service Portal",
        companion=Companion(
            "portal-sim",
            "devtools.portal_simulator",
            "services.portal.settings:PortalSettings",
            ("portal_url", "portal_adapter_class"),
        ),
    ),
    Service(
        "postal",
        "results sent by post: the shipment order, the operator's tracking callbacks",
        publishes=("dossier_topic",),
        companion=Companion(
            "postal-sim",
            "devtools.postal_simulator",
            "services.postal.settings:PostalSettings",
            ("postal_url", "postal_operator_class"),
        ),
    ),
)

NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
CONSUMERS: tuple[str, ...] = tuple(s.name for s in SERVICES if s.consumes)


class UnknownService(KeyError):
    """No service of that name."""


def service(name: str) -> Service:
    for entry in SERVICES:
        if entry.name == name:
            return entry
    raise UnknownService(f"no service {name!r}; the services are {', '.join(NAMES)}")


@dataclass
class Opened:
    """A service's application on its store, built and not started (the operator tools'
    view of it)."""

    service: Service
    app: Application[Any]
    store: Store
    to_contract: ToContract | None


def open_store(entry: Service, settings: Settings) -> Opened:
    app = entry.root.build_application(settings)
    return Opened(entry, app, app.store, entry.root.to_contract(app))
