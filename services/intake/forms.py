"""Checks a submission against its procedure: field formats (I-4) and documents (I-5).

Every problem is reported at once, field by field, so the applicant can fix the
whole form in one go instead of one error per round trip.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from motcua.core.errors import Invalid
from services.catalogue.procedures import FormField, Procedure

ID_NUMBER = re.compile(r"^\d{12}$")
PHONE = re.compile(r"^(\+84|0)\d{9,10}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_form(procedure: Procedure, form_data: dict[str, Any]) -> dict[str, Any]:
    """The form data normalised to each field's type; ``Invalid`` lists every problem."""
    problems: list[dict[str, object]] = []
    known = {f.name for f in procedure.fields}
    problems += [
        {"field": name, "problem": "is not a field of this procedure's form"}
        for name in form_data
        if name not in known
    ]
    clean: dict[str, Any] = {}
    for spec in procedure.fields:
        value = form_data.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                problems.append({"field": spec.name, "problem": f"is required ({spec.guidance})"})
            continue
        try:
            clean[spec.name] = _normalise(spec, value)
        except ValueError as error:
            problems.append({"field": spec.name, "problem": f"{error} ({spec.guidance})"})
    if problems:
        raise Invalid("the form has errors; see details", details=problems)
    return clean


def _normalise(spec: FormField, value: Any) -> Any:
    text = str(value).strip()
    if spec.type == "phone":
        text = text.replace(" ", "").replace(".", "")
    # The type's own check first: its message says more than "has the wrong format".
    result = _typed(spec, text)
    if spec.max_length is not None and len(text) > spec.max_length:
        raise ValueError(f"must be at most {spec.max_length} characters")
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError("has the wrong format")
    return result


def _typed(spec: FormField, text: str) -> Any:
    if spec.type in ("integer", "decimal"):
        return _number(spec, text)
    if spec.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD") from None
    checks = {
        "id_number": (ID_NUMBER, "must be the 12-digit personal identification number"),
        "phone": (PHONE, "must be a Vietnamese phone number such as 0912345678"),
        "email": (EMAIL, "must be an e-mail address"),
    }
    if spec.type in checks and not checks[spec.type][0].match(text):
        raise ValueError(checks[spec.type][1])
    if spec.type == "select" and text not in spec.options:
        raise ValueError(f"must be one of: {', '.join(spec.options)}")
    return text


def _number(spec: FormField, text: str) -> int | str:
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a number")
    if spec.type == "integer" and number != number.to_integral_value():
        raise ValueError("must be a whole number")
    if spec.min_value is not None and number < spec.min_value:
        raise ValueError(f"must be at least {spec.min_value}")
    if spec.max_value is not None and number > spec.max_value:
        raise ValueError(f"must be at most {spec.max_value}")
    # Decimals travel as strings: floats would round areas and money.
    return int(number) if spec.type == "integer" else str(number)


def check_documents(procedure: Procedure, document_ids: list[str]) -> None:
    """Every required document is attached and nothing unknown is."""
    known = {d.id: d for d in procedure.documents}
    problems: list[dict[str, object]] = [
        {"document": d, "problem": "is not a document of this procedure"}
        for d in document_ids
        if d not in known
    ]
    problems += [
        {"document": d.id, "problem": f"is required: {d.name}"}
        for d in procedure.documents
        if d.required and d.id not in document_ids
    ]
    if problems:
        raise Invalid("the dossier's documents are incomplete; see details", details=problems)
