"""A view's document kept as JSON in a read-model row, decoded to the values it was made of.

A view read from its row must answer byte for byte as the view built from the aggregate,
so its datetimes, dates, UUIDs and decimals must come back as those types, not as the
strings plain JSON would leave. The types are those of the event store's own
transcoder, so a document decodes to what a replay of the aggregate would hold.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from motcua.transcoding import DateAsISO

_transcoder = JSONTranscoder()
for _transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
    _transcoder.register(_transcoding)


def encode_document(document: Any) -> str:
    return _transcoder.encode(document).decode("utf8")


def decode_document(text: str) -> Any:
    return _transcoder.decode(text.encode("utf8"))
