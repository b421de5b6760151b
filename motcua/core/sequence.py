"""Gap-free numbering with a cap, for every number the law or a format fixes the width of.

Dossier codes (``<agency>-YYMMDD-XXXX``, I-1), payment codes (six digits a day) and
receipt numbers (seven digits a year) are each the next number of a sequence aggregate
saved **in the same commit** as what the number names. Two writers that read the same
version conflict on the event store's key and the loser retries, so a number is used
once or not at all: no gaps, no repeats. Past its format's last number a sequence
refuses with a clear error rather than growing a digit that no form or reader expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from motcua.core.errors import LimitReached
from motcua.core.tracing import TracedAggregate


class SequenceExhausted(LimitReached):
    """Every number the format allows is used (answered as 409 ``limit_reached``)."""


class GapFreeSequence(TracedAggregate):
    """Issues 1, 2, 3 … up to :meth:`limit`; subclasses record each number as an event.

    A subclass's recorded command calls :meth:`advance`; a refused number records
    nothing, so the sequence stays at its last number."""

    if TYPE_CHECKING:  # set by the subclass's first event; not a field of the aggregate
        last: int

    def limit(self) -> int:
        """The last number the format allows."""
        raise NotImplementedError

    def exhausted(self) -> str:
        """What the refusal says: whose numbers ran out, and why there are no more."""
        raise NotImplementedError

    def advance(self) -> None:
        if self.last >= self.limit():
            raise SequenceExhausted(self.exhausted())
        self.last += 1
