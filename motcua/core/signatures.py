"""Signed HTTP requests between motcua and an outside system, with one shared key.

Every request in either direction carries two headers: a Unix timestamp, and ``v1=``
with the hex HMAC-SHA256 over ``<timestamp>.<raw body>`` keyed with the shared secret
(for a GET the body is the request path with its query string). A receiver refuses a
signature that does not match, or whose timestamp is further than ``tolerance`` seconds
from its clock (a replayed old request). The payment gateway and the postal operator
speak it, each under header names of its own (``HmacScheme``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass


class BadSignature(Exception):
    """The request is not from the system that holds the key, or replays an old one."""


@dataclass(frozen=True)
class HmacScheme:
    timestamp_header: str
    signature_header: str

    @staticmethod
    def sign(secret: str, timestamp: int, payload: bytes) -> str:
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
        return "v1=" + mac.hexdigest()

    def headers(self, secret: str, payload: bytes, now: float | None = None) -> dict[str, str]:
        timestamp = int(time.time() if now is None else now)
        return {
            self.timestamp_header: str(timestamp),
            self.signature_header: self.sign(secret, timestamp, payload),
        }

    def verify(
        self,
        secret: str,
        headers: Mapping[str, str],
        payload: bytes,
        *,
        tolerance: float,
        now: float | None = None,
    ) -> None:
        """Raise ``BadSignature`` unless the headers sign ``payload`` freshly with ``secret``."""
        stamp, signature = headers.get(self.timestamp_header), headers.get(self.signature_header)
        if not stamp or not signature:
            raise BadSignature("missing signature headers")
        try:
            timestamp = int(stamp)
        except ValueError:
            raise BadSignature("timestamp is not an integer") from None
        if not hmac.compare_digest(self.sign(secret, timestamp, payload), signature):
            raise BadSignature("signature does not match")
        age = (time.time() if now is None else now) - timestamp
        if abs(age) > tolerance:
            raise BadSignature(f"signature is stale ({age:.0f}s old, tolerance {tolerance:.0f}s)")
