"""Workflow's timeline is read from its read model, and says what a replay would say.

``GET /v1/dossiers/{ref}/timeline`` answers from one ``workflow_timelines`` row, written
in the transaction of each save. After every command of full lifecycles that together
record every kind of event a process has, the answer over HTTP is compared with the one
built from the aggregate replayed with its events, as the view was built before: an
event type whose save forgot the row would show as a difference. A store written before
the read model existed (events, no rows) answers the same, and gets its row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.envelope import Envelope
from contracts.payment import FeeWaived
from contracts.postal import ShipmentOrdered, ShipmentPickedUp, ShipmentReturned
from motcua.runtime.settings import DEV_JWT_SECRET
from motcua.runtime.store import store_env
from motcua.web.auth import Caller, issue_token
from services.catalogue.procedures import STEP_ROLES, load_catalogue
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process
from services.workflow.schemas import Timeline
from services.workflow.timeline import timeline_document
from tests.support.apps import make_app
from tests.support.dossiers import citizen, officer
from tests.support.ledger import deliver
from tests.support.samples import received

LAND, BIRTH = "1.004227", "1.001193"  # three agencies, fee before result; one agency
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='a', role='admin')}"}
EVERY_EVENT = {
    name
    for name, kind in vars(Process).items()
    if isinstance(kind, type) and issubclass(kind, Process.Event)
} - {"Event", "Created"}


class Lifecycle:
    """Officers and the applicant acting on workflow, each step checked against a replay."""

    def __init__(self, tmp_path: Path) -> None:
        self.client = TestClient(make_app("workflow", tmp_path))
        app: Any = self.client.app
        self.workflow: WorkflowApplication = app.state.workflow
        self.now = MONDAY
        self.workflow.clock = lambda: self.now
        self.recorded: set[str] = set()

    def receive(self, procedure_id: str) -> str:
        event = received(procedure_id)
        deliver(self.workflow, self.workflow.store, self.workflow.handlers(), event, name="w")
        self.check(str(event.dossier_id))
        return str(event.dossier_id)

    def process(self, dossier_id: str) -> Process:
        process: Process = self.workflow.repository.get(uuid.UUID(dossier_id))
        return process

    def act(self, dossier_id: str, action: str, headers: dict[str, str] | None = None, **body: Any):  # type: ignore[no-untyped-def]
        agency = self.process(dossier_id).agency
        response = self.client.post(
            f"/v1/dossiers/{dossier_id}/{action}", headers=headers or officer(agency), json=body
        )
        assert response.status_code == 204, (action, response.text)
        self.check(dossier_id)

    def upload(self) -> dict[str, str]:
        scan = b"%PDF-1.4 bo sung"
        stored = self.workflow.attachments.put(scan, "application/pdf", "c", self.now)
        return {"document_id": "ban_sao", "sha256": stored["sha256"], "filename": "a.pdf"}

    def waive_fee(self, dossier_id: str) -> None:
        waived = FeeWaived(
            event_id=uuid.uuid4(),
            dossier_id=uuid.UUID(dossier_id),
            occurred_at=self.now,
            producer="payment",
            correlation_id="test",
            reason="Miễn phí",
        )
        deliver(self.workflow, self.workflow.store, self.workflow.handlers(), waived, name="w")
        self.check(dossier_id)

    def post(self, dossier_id: str, kind: type[Envelope], **fields: Any) -> None:
        """The postal operator's news of the dossier's parcel, as postal publishes it."""
        news = kind.model_validate(
            {
                "event_id": uuid.uuid4(),
                "dossier_id": dossier_id,
                "occurred_at": self.now,
                "producer": "postal",
                "correlation_id": "test",
                "tracking_number": "EB000000001VN",
                **fields,
            }
        )
        deliver(self.workflow, self.workflow.store, self.workflow.handlers(), news, name="p")
        self.check(dossier_id)

    def run_clock(self, dossier_id: str) -> None:
        assert self.workflow.check_deadlines() > 0
        self.check(dossier_id)

    def replayed(self, dossier_id: str) -> dict[str, Any]:
        """The timeline as it was built before its read model: from the aggregate."""
        process = self.process(dossier_id)
        document = timeline_document(process, self.workflow.history(process))
        return Timeline.model_validate(document).model_dump(mode="json", by_alias=True)

    def check(self, dossier_id: str) -> None:
        answer = self.client.get(f"/v1/dossiers/{dossier_id}/timeline", headers=ADMIN)
        assert answer.status_code == 200, answer.text
        expected = self.replayed(dossier_id)
        assert answer.json() == expected
        kept = self.workflow.store.read_one(
            "SELECT version FROM {workflow_timelines} WHERE dossier_id = ?", (dossier_id,)
        )
        assert kept == {"version": self.process(dossier_id).version}
        self.recorded.update(entry["event"] for entry in expected["history"])


def test_every_kind_of_event_leaves_the_timeline_as_a_replay_gives_it(tmp_path: Path) -> None:
    life = Lifecycle(tmp_path)
    land = life.receive(LAND)
    life.act(land, "claim")
    life.act(land, "request-supplement", reason="Thiếu bản sao", documents=["ban_sao"])
    life.act(land, "supplement", headers=citizen(), documents=[life.upload()])
    life.now += timedelta(days=30)  # every due date and the appointment pass
    life.run_clock(land)
    appointment = life.replayed(land)["appointment_date"]
    later = (date.fromisoformat(appointment) + timedelta(days=7)).isoformat()
    life.act(land, "apology", reason="Xin lỗi vì chậm", appointment_date=later)
    while not life.process(land).is_last_step:
        process = life.process(land)
        life.act(land, "complete-step", notes="Đã xử lý")
        if process.next_agency != process.agency:
            life.act(land, "hand-over")
    life.act(land, "approve", notes="Đồng ý")
    life.waive_fee(land)
    life.act(land, "result", kind="pickup")
    life.act(land, "returned", method="pickup")

    refused = life.receive(BIRTH)
    life.act(refused, "reject", reason="Hồ sơ không hợp lệ")
    withdrawn = life.receive(BIRTH)
    life.act(withdrawn, "withdraw", headers=citizen(), reason="Không cần nữa")

    posted = life.receive(BIRTH)
    for action in ("complete-step", "complete-step", "approve", "complete-step"):
        life.act(posted, action)
    life.act(posted, "result", kind="post")
    life.post(posted, ShipmentOrdered, operator="Bưu điện", ordered_at=life.now)
    life.post(posted, ShipmentPickedUp, at=life.now)
    life.post(posted, ShipmentReturned, at=life.now, reason="Không có người nhận")

    assert life.recorded == EVERY_EVENT


def _legacy(workflow: WorkflowApplication) -> None:
    """What a store written before the read model holds: events, no timeline rows."""
    workflow.store.write(lambda tx: tx.execute("DELETE FROM {workflow_timelines}"))


def test_a_dossier_saved_before_the_read_model_is_answered_and_gets_its_row(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.receive(LAND)
    life.act(dossier_id, "claim")
    _legacy(life.workflow)

    life.check(dossier_id)  # built from the aggregate, then kept

    rows = life.workflow.store.read("SELECT dossier_id, version FROM {workflow_timelines}")
    assert rows == [{"dossier_id": dossier_id, "version": life.process(dossier_id).version}]


def test_a_legacy_dossier_changed_before_anyone_looked_has_its_whole_history(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.receive(LAND)
    _legacy(life.workflow)

    life.act(dossier_id, "claim")  # the save finds no row: the history comes from the events

    assert [h["event"] for h in life.replayed(dossier_id)["history"]] == [
        "Started",
        "StepStarted",
        "StepClaimed",
    ]


@pytest.mark.parametrize(
    "caller",
    [
        {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='x', role='citizen')}"},
        officer("000.00.99.H23"),
    ],
    ids=["another citizen", "an officer of an agency not in the process"],
)
def test_others_get_a_404_by_id_and_by_code(tmp_path: Path, caller: dict[str, str]) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.receive(LAND)
    code = life.process(dossier_id).code
    for ref in (dossier_id, code):
        answer = life.client.get(f"/v1/dossiers/{ref}/timeline", headers=caller)
        assert answer.status_code == 404, ref
    agency = officer(life.process(dossier_id).agency)
    for ref in (dossier_id, code):  # while the applicant and the agencies see it
        for allowed in (agency, citizen()):
            answer = life.client.get(f"/v1/dossiers/{ref}/timeline", headers=allowed)
            assert answer.status_code == 200, ref


def test_on_both_databases_a_legacy_process_saved_again_reads_as_its_replay(
    database_url: str | None, tmp_path: Path
) -> None:
    workflow = WorkflowApplication(
        store_env(database_url, str(tmp_path), "workflow"), catalogue=load_catalogue()
    )
    event = received(LAND)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="w")
    _legacy(workflow)
    agency: str = workflow.repository.get(event.dossier_id).agency
    officer = Caller(sub="o", role="officer", agency=agency, step_roles=STEP_ROLES)
    workflow.claim(officer, event.dossier_id, None, "t")

    answer = workflow.timeline(Caller(sub="a", role="admin"), str(event.dossier_id))

    process: Process = workflow.repository.get(event.dossier_id)
    assert answer == timeline_document(process, workflow.history(process))
    assert [h["event"] for h in answer["history"]] == ["Started", "StepStarted", "StepClaimed"]
    workflow.close()
