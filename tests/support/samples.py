"""Sample events and readers shared by the unit tests, the integration tests and the
benchmarks (which may import this package but no test module)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import Applicant, FormValue
from contracts.intake import DossierReceived
from services.catalogue.procedures import load_catalogue
from services.stats.application import StatsApplication

CATALOGUE = load_catalogue()

LAND = "1.004227"  # level 4, three agencies, per-unit fees with min/max, one non-refundable


def received(procedure_id: str, form: dict[str, Any] | None = None) -> DossierReceived:
    procedure = CATALOGUE.get(procedure_id)
    assert procedure is not None
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    return DossierReceived(
        event_id=uuid.uuid4(),
        dossier_id=uuid.uuid4(),
        occurred_at=now,
        producer="intake",
        correlation_id="test",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        level=procedure.level,
        agency_code=procedure.receiving_agency.code,
        channel="online",
        applicant=Applicant(account="citizen-1", full_name="NGUYỄN VĂN A", id_number="0" * 12),
        form_data=form or {},
        documents=(),
        code=f"{procedure.receiving_agency.code}-260302-0001",
        received_at=now,
        appointment_date=date(2026, 3, 20),
        time_limit_working_days=procedure.time_limit_working_days,
        received_by="officer-1",
    )


LAND_FORM: dict[str, FormValue] = {
    "gia_tri_chuyen_nhuong_trieu_vnd": 1500,
    "dien_tich_thua_dat_m2": 120.4,
}


def tables(app: StatsApplication) -> tuple[list[dict[str, Any]], ...]:
    """Every stats table's rows, in a stable order: the year-to-date rows, then the facts."""
    return tuple(
        app.store.read(f"SELECT * FROM {{{table}}} ORDER BY {order}")
        for table, order in (
            ("stats_dossiers", "dossier_id"),
            ("stats_agency_steps", "dossier_id, agency_code"),
            ("stats_facts", "dossier_id"),
            ("stats_pauses", "dossier_id, n"),
            ("stats_feedback", "feedback_id"),
        )
    )
