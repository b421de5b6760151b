"""What one GET of the screens' most called views costs, on a dossier with a long history.

Officers' and applicants' screens poll the workflow timeline, the payment bill and
intake's lookup (as a party, and in public by code and ID number); the cost of one
answer should not grow with the dossier's history. Each view is asked ``--requests``
times through FastAPI's TestClient (in-process, SQLite) on a dossier of ``--events``
events, and the CPU time of this process (``time.process_time``) is divided by the
requests. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import Caller, issue_token
from services.catalogue.procedures import STEP_ROLES
from services.intake.application import IntakeApplication
from services.intake.main import create_app as create_intake
from services.payment.application import PaymentApplication
from services.payment.gateway import Order
from services.payment.main import create_app as create_payment
from services.workflow.application import WorkflowApplication
from services.workflow.main import create_app as create_workflow
from tests.support.dossiers import BIRTH_AGENCY, CITIZEN, CITIZEN_ID, submit
from tests.support.ledger import deliver
from tests.support.samples import LAND, LAND_FORM, received

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='a', role='admin')}"}


class Gateway:
    """Takes every order; nothing else is asked of it here."""

    def create_order(self, order: Order) -> str:
        return f"https://gateway.test/pay/{order.order_id}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def cpu_ms_per_get(
    client: TestClient, url: str, requests: int, headers: Mapping[str, str] = ADMIN
) -> float:
    assert client.get(url, headers=headers).status_code == 200  # warm
    start = time.process_time()
    for _ in range(requests):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
    return (time.process_time() - start) * 1000 / requests


def timeline(folder: Path, events: int, requests: int) -> float:
    """A dossier whose current step was claimed and reassigned ``events`` times."""
    client = TestClient(create_workflow(Settings(var_dir=folder)))
    workflow: WorkflowApplication = client.app.state.workflow  # type: ignore[attr-defined]
    event = received(LAND, LAND_FORM)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="workflow")
    agency: str = workflow.repository.get(event.dossier_id).agency
    officer = Caller(sub="officer-1", role="officer", agency=agency, step_roles=STEP_ROLES)
    for i in range(events - 2):
        workflow.claim(officer, event.dossier_id, f"officer-{i % 5}", "bench")
    return cpu_ms_per_get(client, f"/v1/dossiers/{event.dossier_id}/timeline", requests)


def bill(folder: Path, events: int, requests: int) -> float:
    """A bill with ``events // 2`` online attempts, each started and then expired."""
    client = TestClient(create_payment(Settings(var_dir=folder)))
    payment: PaymentApplication = client.app.state.payment  # type: ignore[attr-defined]
    clock = Clock()
    payment.gateway, payment.clock = Gateway(), clock  # type: ignore[assignment]
    event = received(LAND, LAND_FORM)
    deliver(payment, payment.store, payment.handlers(), event, name="payment")
    for _ in range(events // 2):
        payment.checkout(str(event.dossier_id), "bench")
        clock.now += timedelta(days=1)
        payment.expire_attempts()
    return cpu_ms_per_get(client, f"/v1/payments/{event.dossier_id}", requests)


def intake_dossier(folder: Path, events: int) -> tuple[TestClient, str, str]:
    """An accepted dossier whose applicant sent ``(events - 2) // 2`` feedback, each
    answered by the agency: (client, dossier id, code)."""
    client = TestClient(create_intake(Settings(var_dir=folder)))
    intake: IntakeApplication = client.app.state.intake  # type: ignore[attr-defined]
    dossier_id = submit(intake)
    officer = Caller(sub="officer-1", role="officer", agency=BIRTH_AGENCY)
    code = intake.accept(officer, dossier_id, correlation_id="bench")
    for _ in range((events - 2) // 2):
        feedback_id = intake.send_feedback(
            CITIZEN,
            str(dossier_id),
            None,
            kind="feedback",
            text="Xin cho biết hồ sơ đang ở bước nào",
            correlation_id="bench",
        )
        intake.answer_feedback(
            officer, dossier_id, feedback_id, answer="Hồ sơ đang được xử lý", correlation_id="b"
        )
    return client, str(dossier_id), code


def lookup(folder: Path, events: int, requests: int) -> float:
    """Intake's lookup by id as a party (an admin): the view with the form and documents."""
    client, dossier_id, _ = intake_dossier(folder, events)
    return cpu_ms_per_get(client, f"/v1/dossiers/{dossier_id}", requests)


def public_lookup(folder: Path, events: int, requests: int) -> float:
    """Intake's public lookup, without a token: the dossier code and the ID number."""
    client, _, code = intake_dossier(folder, events)
    return cpu_ms_per_get(client, f"/v1/dossiers/{code}", requests, {"X-Id-Number": CITIZEN_ID})


VIEWS: Mapping[str, Callable[[Path, int, int], float]] = {
    "GET /v1/dossiers/{ref}/timeline": timeline,
    "GET /v1/payments/{ref}": bill,
    "GET /v1/dossiers/{ref} (party)": lookup,
    "GET /v1/dossiers/{code} (public)": public_lookup,
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"events": args.events, "day": datetime.now(UTC).date().isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, run) in enumerate(VIEWS.items()):
            figures[name] = run(Path(tmp) / str(n), args.events, args.requests)
    for name, value in figures.items():
        print(f"{name:40} {value:.2f} ms CPU" if isinstance(value, float) else f"{name:40} {value}")
    return figures


if __name__ == "__main__":
    main()
