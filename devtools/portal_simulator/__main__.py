"""``python -m devtools.portal_simulator``: the simulator as a process, configured from
the environment like the portal sync it stands beside."""

from __future__ import annotations

from devtools.portal_simulator.app import PortalSim, SimConfig, create_app
from devtools.stand_ins import serve
from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from services.portal.settings import PortalSettings


def main() -> None:
    settings, portal = Settings(), PortalSettings()
    configure_logging(settings.log_level, service="portal-sim")
    sim = PortalSim(
        portal.portal_api_key.get_secret_value(),
        settings.var_dir / "portal-sim",
        SimConfig(mode=portal.portal_sim_mode, delay_seconds=portal.portal_sim_delay_seconds),
    )
    serve(create_app(sim), portal.portal_sim_port)


if __name__ == "__main__":
    main()
