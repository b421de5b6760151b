"""Notices as text: one Jinja2 template per (kind, part) in ``services/notify/templates``.

Each kind has ``<kind>.subject.j2`` (one line), ``<kind>.email.j2`` (plain text, also
shown in the portal inbox) and ``<kind>.sms.j2`` (short, then fitted by ``fit_sms``).
Every template receives the same plain dict: ``applicant_name``, ``code``,
``procedure_name``, ``agency_name``, ``lookup_url``, ``appointment_date`` with
``appointment_time`` (its hour, when known), ``reason``,
``documents``, ``payment_url``, ``amount_vnd``, ``result_kind``, ``result_url`` (where
workflow serves an electronic result, to its applicant only) and
``new_appointment_date`` (and ``answer``, an agency's answer to a feedback, which only
its template shows, when given); optional values are ``None`` and the templates leave
them out. A missing key is an error (``StrictUndefined``), not a silent blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from motcua.core.money import money_vnd
from services.notify.sms import fit_sms

Channel = Literal["email", "sms", "inbox"]

KINDS: tuple[str, ...] = (
    "received",
    "completion_requested",
    "supplement_requested",
    "payment_confirmed",
    "fee_due",
    "overdue_apology",
    "result_ready",
    "refused",
    "rejected",
    "feedback_answered",
    "posted",
    "post_delivered",
    "post_returned",
)
CHANNELS: tuple[Channel, ...] = ("email", "sms", "inbox")

# Optional paragraphs left out can leave several blank lines in a row: keep one.
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.notify", "templates"),
        autoescape=False,  # plain text: e-mail bodies and SMS, never HTML
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vnd"] = money_vnd
    return env


def render(kind: str, channel: Channel, data: dict[str, Any]) -> Rendered:
    """The subject and body of notice ``kind`` on ``channel``.

    e-mail and inbox get the same subject and body; SMS gets no subject and a body that
    fits in two segments (without diacritics if need be, see ``fit_sms``). Subjects and
    SMS are collapsed onto one line, whatever the data holds: a line break in a subject
    would break the e-mail header.
    """
    if kind not in KINDS:
        raise KeyError(f"unknown notice kind {kind!r}; known kinds: {', '.join(KINDS)}")
    if channel == "sms":
        text = _one_line(_template(kind, "sms").render(data))
        return Rendered(subject="", body=fit_sms(text)[0])
    if channel in ("email", "inbox"):
        subject = _one_line(_template(kind, "subject").render(data))
        body = _BLANK_LINES.sub("\n\n", _template(kind, "email").render(data)).strip()
        return Rendered(subject=subject, body=body)
    raise ValueError(f"unknown channel {channel!r}; known channels: {', '.join(CHANNELS)}")


def _template(kind: str, part: str) -> Template:
    return environment().get_template(f"{kind}.{part}.j2")


def _one_line(text: str) -> str:
    return " ".join(text.split())
