"""Dossier codes (I-1) are unique and gap-free per unit and day, under concurrency."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from motcua.core.calendar import local_date
from motcua.web.auth import Caller
from tests.support.dossiers import BIRTH_AGENCY, make_intake, officer, submit, submit_birth
from tests.support.processes import Postgres, ServiceProcess

pytestmark = pytest.mark.integration

OFFICER = Caller(sub="officer-1", role="officer", agency=BIRTH_AGENCY)


# The services' "now", fixed: the code carries the day of acceptance, which on the real
# clock could change between the acceptances and the expectation (at midnight in Hanoi).
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def expected_codes(count: int) -> list[str]:
    return [f"{BIRTH_AGENCY}-{local_date(NOW):%y%m%d}-{n:04d}" for n in range(1, count + 1)]


def test_concurrent_acceptance_assigns_gap_free_codes(
    database_url: str | None, tmp_path: Path
) -> None:
    intake = make_intake(database_url, tmp_path / "var", clock=lambda: NOW)
    dossiers = [submit(intake) for _ in range(30)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda d: intake.accept(OFFICER, d, correlation_id="t"), dossiers))

    assert sorted(codes) == expected_codes(30)


def test_lookup_row_and_events_are_saved_together(database_url: str | None, tmp_path: Path) -> None:
    intake = make_intake(database_url, tmp_path / "var")
    dossier_id = submit(intake)

    code = intake.accept(OFFICER, dossier_id, correlation_id="t")

    row = intake.store.read_one("SELECT * FROM {intake_dossiers} WHERE id = ?", (str(dossier_id),))
    assert row is not None
    assert (row["code"], row["status"]) == (code, "received")
    assert intake.find(code, OFFICER, None).id == dossier_id


@pytest.mark.postgres
def test_two_intake_processes_on_one_postgres_assign_gap_free_codes(
    start_intake: Callable[..., ServiceProcess],
    postgres: Postgres,
    tmp_path: Path,
    clock_file: Path,
) -> None:
    clock_file.write_text(NOW.isoformat())
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    first = start_intake(url, tmp_path / "a")
    second = start_intake(url, tmp_path / "b")
    with httpx.Client(base_url=first.url, timeout=30) as client:
        dossiers = [submit_birth(client) for _ in range(40)]

    def accept(pair: tuple[int, str]) -> str:
        index, dossier_id = pair
        target = (first, second)[index % 2]
        response = httpx.post(
            f"{target.url}/v1/dossiers/{dossier_id}/accept", headers=officer(), timeout=60
        )
        assert response.status_code == 200, response.text
        code: str = response.json()["code"]
        return code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(accept, enumerate(dossiers)))

    assert sorted(codes) == expected_codes(40)
