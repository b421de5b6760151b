"""``python -m devtools.gateway_simulator``: the simulator as a process, configured from
the environment like the payment service it stands beside."""

from __future__ import annotations

from devtools.gateway_simulator.app import create_app
from devtools.gateway_simulator.models import SimConfig
from devtools.gateway_simulator.simulator import Simulator
from devtools.stand_ins import serve
from motcua.core.clock import make_clock
from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from services.payment.settings import PaymentSettings


def main() -> None:
    settings, payment = Settings(), PaymentSettings()
    configure_logging(settings.log_level, service="gateway-sim")
    config = SimConfig(
        duplicates=payment.gateway_sim_duplicates,
        delay_seconds=payment.gateway_sim_delay_seconds,
        shuffle=payment.gateway_sim_shuffle,
    )
    sim = Simulator(
        payment.payment_gateway_secret.get_secret_value(),
        settings.var_dir / "gateway-sim",
        config=config,
        clock=make_clock(settings.clock_file),
        port=payment.gateway_sim_port,
        tolerance=payment.payment_signature_tolerance_seconds,
    )
    serve(create_app(sim), payment.gateway_sim_port)


if __name__ == "__main__":
    main()
