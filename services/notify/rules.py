"""Which notices go out on which channels, per procedure (configurable).

By default every notice kind goes to every channel the applicant chose at submission.
A rules file (``MOTCUA_NOTIFY_RULES_FILE``) narrows that per procedure and kind::

    {"procedures": {"1.001193": {"payment_confirmed": [], "received": ["inbox", "sms"]}}}

An empty list turns that kind off for that procedure.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from services.notify.render import CHANNELS, KINDS


class RulesFile(BaseModel):
    procedures: dict[str, dict[str, list[str]]] = {}


class Rules:
    def __init__(self, procedures: dict[str, dict[str, list[str]]] | None = None) -> None:
        self.procedures = procedures or {}
        for procedure, kinds in self.procedures.items():
            for kind, channels in kinds.items():
                unknown = set(channels) - {*CHANNELS, "webhook"}
                if kind not in KINDS or unknown:
                    raise ValueError(
                        f"rules for {procedure}: unknown kind {kind!r} or "
                        f"channels {sorted(unknown)}"
                    )

    @classmethod
    def from_file(cls, path: Path | None) -> Rules:
        if path is None:
            return cls()
        try:
            return cls(RulesFile.model_validate(json.loads(path.read_text())).procedures)
        except (OSError, ValueError, ValidationError) as error:
            raise ValueError(f"notify rules file {path}: {error}") from error

    def channels(self, procedure_id: str, kind: str, chosen: set[str]) -> set[str]:
        """The applicant's chosen channels that the procedure's rules allow for ``kind``."""
        allowed = self.procedures.get(procedure_id, {}).get(kind)
        return chosen if allowed is None else chosen & set(allowed)
