"""The procedure catalogue (thủ tục hành chính): what a citizen can apply for.

The catalogue is reference data shipped with the project (``data/procedures.json``)
and shared read-only with the other services (workflow reads the electronic
process from it), so it lives in one module with no I/O at import time.
Each procedure carries the 11 level-1 items of Circular 32/2017 (L-1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from unidecode import unidecode

from contracts.intake import AGENCY_CODE_PATTERN
from motcua.core.errors import NotFound

DATA_FILE = Path(__file__).parent / "data" / "procedures.json"

EXEMPTION_FIELD = "doi_tuong_mien_phi"  # the applicant's exempt group, if any

FieldType = Literal["text", "integer", "decimal", "date", "email", "phone", "id_number", "select"]
Tier = Literal["province", "district", "commune"]
Channel = Literal["online", "counter", "post"]
# Who does a step of the electronic process: the one-stop officer (một cửa), the
# specialist (chuyên viên), the leader who signs (lãnh đạo). Officers' tokens name the
# ones they hold (``step_roles``); workflow lets only them act on such a step.
StepRole = Literal["mot_cua", "chuyen_vien", "lanh_dao"]
STEP_ROLES: tuple[StepRole, ...] = get_args(StepRole)
LEADER: StepRole = "lanh_dao"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(Frozen):
    """An agency, identified by its QCVN 102:2016 code (e.g. ``000.00.31.H23``)."""

    code: str = Field(pattern=AGENCY_CODE_PATTERN)
    name: str


# Form field -> the claim of the applicant's account (the sign-in token) that fills it.
ACCOUNT_CLAIMS = {
    "ho_ten": "name",
    "so_dinh_danh": "id_number",
    "ngay_sinh": "birthdate",
    "dia_chi": "address",
    "so_dien_thoai": "phone",
    "email": "email",
}


class FormField(Frozen):
    """One field of the e-form, with its format and the guidance shown beside it (I-4)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: FieldType
    required: bool = True
    guidance: str
    example: str | None = None
    pattern: str | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    prefill: Literal["account", "previous"] | None = None

    @model_validator(mode="after")
    def select_has_options(self) -> FormField:
        if self.type == "select" and not self.options:
            raise ValueError(f"select field {self.name} needs options")
        return self

    @model_validator(mode="after")
    def account_can_fill(self) -> FormField:
        if self.prefill == "account" and self.name not in ACCOUNT_CLAIMS:
            raise ValueError(
                f"field {self.name} is to be filled from the account, but no claim of the "
                f"account holds it (fillable: {', '.join(ACCOUNT_CLAIMS)})"
            )
        return self


class RequiredDocument(Frozen):
    """A document of the dossier (thành phần hồ sơ) and how many copies (L-1)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    copies: int = Field(ge=1)
    original: bool = False
    required: bool = True
    guidance: str = ""


class FeeItem(Frozen):
    """A fee or charge (phí, lệ phí), fixed or per unit of a form field (P-1).

    ``amount_vnd`` is fixed; with ``per_unit_field`` the amount is
    ``unit_amount_vnd`` times that field's value, clamped to min/max. Applicants
    in ``exempt_groups`` (declared in the form field ``EXEMPTION_FIELD``) pay nothing
    for this item.
    """

    id: str
    name: str
    amount_vnd: int = Field(default=0, ge=0)
    per_unit_field: str | None = None
    unit_amount_vnd: int = Field(default=0, ge=0)
    min_vnd: int | None = Field(default=None, ge=0)
    max_vnd: int | None = Field(default=None, ge=0)
    exempt_groups: tuple[str, ...] = ()
    refundable: bool = Field(
        default=True,
        description="Paid back if the dossier is refused or withdrawn before its result",
    )
    legal_basis: str = ""


class ProcessStep(Frozen):
    """One step of the electronic process (W-1): who does it and its share of the time."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    agency: Agency
    role: StepRole
    working_days: Decimal = Field(gt=0)


class Procedure(Frozen):
    """An administrative procedure with its level-1 items, form, fees and process."""

    id: str
    name: str
    sector: str
    field: str
    tier: Tier
    level: Literal[2, 3, 4]
    receiving_agency: Agency
    resolving_agency: str
    applicants: str
    steps: tuple[str, ...]
    submission_methods: tuple[Channel, ...]
    result: str
    result_return_methods: tuple[str, ...]
    time_limit_working_days: int = Field(ge=1)
    conditions: str
    legal_bases: tuple[str, ...]
    downloadable_forms: tuple[str, ...] = ()
    documents: tuple[RequiredDocument, ...]
    fields: tuple[FormField, ...]
    fees: tuple[FeeItem, ...] = ()
    fee_due_before_result: bool = False
    process: tuple[ProcessStep, ...]

    @field_validator("process")
    @classmethod
    def process_not_empty(cls, steps: tuple[ProcessStep, ...]) -> tuple[ProcessStep, ...]:
        if not steps:
            raise ValueError("a procedure needs at least one process step")
        return steps

    @model_validator(mode="after")
    def process_fits_time_limit(self) -> Procedure:
        total = sum((s.working_days for s in self.process), Decimal(0))
        if total != self.time_limit_working_days:
            raise ValueError(
                f"procedure {self.id}: process steps add up to {total} working days, "
                f"not the announced {self.time_limit_working_days}"
            )
        names = {f.name for f in self.fields}
        for fee in self.fees:
            if fee.per_unit_field and fee.per_unit_field not in names:
                raise ValueError(f"fee {fee.id} refers to unknown field {fee.per_unit_field}")
        groups = {g for fee in self.fees for g in fee.exempt_groups}
        exemption = next((f for f in self.fields if f.name == EXEMPTION_FIELD), None)
        if groups and (exemption is None or not groups <= set(exemption.options)):
            raise ValueError(
                f"procedure {self.id}: fees exempt {sorted(groups)}, so the form needs a "
                f"select field {EXEMPTION_FIELD} offering them"
            )
        return self

    @property
    def agencies(self) -> tuple[str, ...]:
        """Codes of every agency the process passes through, in order, without repeats."""
        return tuple(dict.fromkeys(step.agency.code for step in self.process))

    @property
    def search_text(self) -> str:
        return fold(" ".join((self.id, self.name, self.sector, self.field, self.resolving_agency)))


def fold(text: str) -> str:
    """Lower-case ASCII form of Vietnamese text, so "dang ky" matches "Đăng ký"."""
    return " ".join(unidecode(text).lower().split())


class Catalogue:
    """The procedures, with the filters of ``GET /v1/procedures``."""

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self._by_id = {p.id: p for p in procedures}

    def get(self, procedure_id: str) -> Procedure | None:
        return self._by_id.get(procedure_id)

    def require(self, procedure_id: str) -> Procedure:
        """The procedure, or ``NotFound`` (404) naming the id: for commands and events
        that name a procedure the catalogue must have."""
        procedure = self._by_id.get(procedure_id)
        if procedure is None:
            raise NotFound(f"no procedure with id {procedure_id}")
        return procedure

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def search(
        self,
        *,
        q: str | None = None,
        sector: str | None = None,
        field: str | None = None,
        tier: str | None = None,
        level: int | None = None,
    ) -> list[Procedure]:
        """Procedures matching every given filter; text filters ignore case and diacritics."""
        words = fold(q).split() if q else []
        return [
            p
            for p in self._by_id.values()
            if (sector is None or fold(p.sector) == fold(sector))
            and (field is None or fold(p.field) == fold(field))
            and (tier is None or p.tier == tier)
            and (level is None or p.level == level)
            and all(w in p.search_text for w in words)
        ]


def parse_catalogue(raw: str) -> Catalogue:
    procedures = [Procedure.model_validate(item) for item in json.loads(raw)["procedures"]]
    ids = [p.id for p in procedures]
    if len(ids) != len(set(ids)):
        raise ValueError("procedure ids must be unique")
    return Catalogue(procedures)


@cache
def load_catalogue(path: Path = DATA_FILE) -> Catalogue:
    """The shipped catalogue, parsed and validated once per process."""
    return parse_catalogue(path.read_text(encoding="utf-8"))
