"""Which ministries receive which dossiers, and which personal fields each may see.

The file (``MOTCUA_INTERAGENCY_MINISTRIES_FILE``, default ``data/ministries.json``) is
validated against the catalogue when the service starts, so a typo stops the service
with a message naming the ministry and the entry, instead of silently sending nothing,
or more than intended. Personal fields come from a closed list (``ALLOWED_FIELDS`` and
``form.<field>``), so adding a field a ministry receives is a reviewed code change of
this list, not a configuration accident.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.catalogue.procedures import Catalogue, Procedure

DATA_FILE = Path(__file__).parent / "data" / "ministries.json"

# Everything beyond the default (personal-data-free) events a ministry may be given.
ALLOWED_FIELDS: dict[str, str] = {
    "applicant.full_name": "the applicant's full name (on InteragencyDossierReceived)",
    "applicant.id_number": "the applicant's ID number (on InteragencyDossierReceived)",
    "applicant.phone": "the applicant's phone number (on InteragencyDossierReceived)",
    "applicant.email": "the applicant's e-mail address (on InteragencyDossierReceived)",
    "reason": "free-text reasons of supplement requests, refusals, withdrawals, apologies",
}
FORM_PREFIX = "form."  # form.<field>: a field of the e-form of a procedure it receives


class MinistriesError(ValueError):
    """The ministries file is invalid; the message says where and why."""


class Ministry(BaseModel):
    """One ministry system subscribing to its own topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,30}$",
        description="Short lower-case code; its topic is interagency-events.<code>",
    )
    name: str
    purpose: str = Field(default="", description="Why it receives these dossiers (for audits)")
    procedures: tuple[str, ...] = Field(default=(), description="Procedure ids it receives")
    agencies: tuple[str, ...] = Field(
        default=(), description="Also every dossier whose process passes through these agencies"
    )
    fields: tuple[str, ...] = Field(
        default=(), description="Personal fields it may receive, from the closed allow-list"
    )

    def receives(self, procedure: Procedure) -> bool:
        return procedure.id in self.procedures or any(
            a in self.agencies for a in procedure.agencies
        )


class MinistriesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ministries: tuple[Ministry, ...]


def load_ministries(path: Path | None, catalogue: Catalogue) -> tuple[Ministry, ...]:
    """The ministries of ``path`` (None: the shipped file), checked against ``catalogue``."""
    path = path or DATA_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MinistriesError(f"{path}: cannot read the ministries file: {error}") from None
    return parse_ministries(raw, catalogue, source=str(path))


def parse_ministries(
    raw: str, catalogue: Catalogue, source: str = "ministries"
) -> tuple[Ministry, ...]:
    try:
        parsed = MinistriesFile.model_validate(json.loads(raw))
    except json.JSONDecodeError as error:
        raise MinistriesError(f"{source}: not valid JSON: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise MinistriesError(f"{source}: {where}: {first['msg']}") from None
    problems = [p for m in parsed.ministries for p in _problems(m, catalogue)]
    codes = [m.code for m in parsed.ministries]
    problems += [
        f"ministry code {c!r} is used twice" for c in sorted(set(codes)) if codes.count(c) > 1
    ]
    if problems:
        raise MinistriesError(f"{source}: " + "; ".join(problems))
    return parsed.ministries


def _problems(ministry: Ministry, catalogue: Catalogue) -> list[str]:
    at = f"ministry {ministry.code!r}"
    known_agencies = {a for p in catalogue for a in p.agencies}
    problems = [
        f"{at}: unknown procedure {p!r}" for p in ministry.procedures if not catalogue.get(p)
    ]
    problems += [
        f"{at}: unknown agency {a!r}" for a in ministry.agencies if a not in known_agencies
    ]
    if not ministry.procedures and not ministry.agencies:
        problems.append(f"{at}: receives nothing (list procedures or agencies)")
    received = [p for p in catalogue if ministry.receives(p)]
    form_fields = {f.name for p in received for f in p.fields}
    for name in ministry.fields:
        if name in ALLOWED_FIELDS:
            continue
        if name.startswith(FORM_PREFIX):
            if name.removeprefix(FORM_PREFIX) not in form_fields:
                problems.append(f"{at}: {name!r} is not a form field of any procedure it receives")
            continue
        allowed = ", ".join([*ALLOWED_FIELDS, f"{FORM_PREFIX}<field>"])
        problems.append(f"{at}: unknown field {name!r} (allowed: {allowed})")
    return problems
