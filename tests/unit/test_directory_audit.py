"""``motcua audit directory``'s account of who held which step role at which agency when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ops.audit import Tenure, actor_of, detail_of, tenures


def _at(hour: int) -> str:
    return datetime(2026, 3, 2, hour, tzinfo=UTC).isoformat()


EVENTS: list[dict[str, Any]] = [
    {"type": "AgencyRegistered", "code": "001.20.51.H23", "name": "UBND xã Tân Phú",
     "reason": "NQ", "registered_by": "admin-1", "occurred_at": _at(1)},
    {"type": "OfficerRolesSet", "officer": "cv-1", "agency_code": "001.20.51.H23",
     "step_roles": ["chuyen_vien"], "reason": "QĐ 12", "set_by": "admin-1", "occurred_at": _at(2)},
    {"type": "OfficerRolesSet", "officer": "cv-1", "agency_code": "001.20.51.H23",
     "step_roles": ["chuyen_vien", "lanh_dao"], "reason": "QĐ 13", "set_by": "admin-2",
     "occurred_at": _at(3)},
    {"type": "OfficerRemoved", "officer": "cv-1", "agency_code": "001.20.51.H23",
     "reason": "Chuyển công tác", "removed_by": "admin-1", "occurred_at": _at(4)},
]  # fmt: skip


def test_each_tenure_runs_from_the_change_that_set_it_to_the_one_that_ended_it() -> None:
    t = [datetime(2026, 3, 2, h, tzinfo=UTC) for h in (2, 3, 4)]

    assert tenures(EVENTS) == [
        Tenure("cv-1", "001.20.51.H23", "chuyen_vien", t[0], "admin-1", t[1], "admin-2"),
        Tenure("cv-1", "001.20.51.H23", "chuyen_vien lanh_dao", t[1], "admin-2", t[2], "admin-1"),
    ]


def test_the_administrator_is_the_actor_and_the_change_is_described() -> None:
    assert [actor_of(e) for e in EVENTS] == ["admin-1", "admin-1", "admin-2", "admin-1"]
    assert detail_of(EVENTS[1]) == "cv-1 at 001.20.51.H23 as chuyen_vien: QĐ 12"
    assert detail_of(EVENTS[3]) == "cv-1 removed from 001.20.51.H23: Chuyển công tác"
