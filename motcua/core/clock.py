"""The services' notion of "now": the real clock, or a file for tests and the demo.

With ``MOTCUA_CLOCK_FILE`` set, "now" is the ISO timestamp written in that file (the real
clock while it does not exist). Tests and the demo use it to let days pass, so that the
statutory deadlines can be shown to expire without waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def make_clock(clock_file: Path | None) -> Clock:
    if clock_file is None:
        return system_clock
    path = clock_file

    def file_clock() -> datetime:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return system_clock()
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(f"{path}: the time must carry a timezone, e.g. 2026-03-02T09:00+07:00")
        return moment

    return file_clock
