"""``python -m devtools.postal_simulator``: the simulator as a process, configured from
the environment like the postal service it stands beside."""

from __future__ import annotations

from devtools.postal_simulator.app import PostalSim, create_app
from devtools.stand_ins import serve
from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from services.postal.settings import PostalSettings


def main() -> None:
    settings, postal = Settings(), PostalSettings()
    configure_logging(settings.log_level, service="postal-sim")
    sim = PostalSim(
        postal.postal_secret.get_secret_value(),
        settings.var_dir / "postal-sim",
        duplicates=postal.postal_sim_duplicates,
        tolerance=postal.postal_signature_tolerance_seconds,
    )
    serve(create_app(sim), postal.postal_sim_port)


if __name__ == "__main__":
    main()
