"""Extra types for eventsourcing's JSON transcoder (dates travel as ISO strings)."""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import Transcoding


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)
