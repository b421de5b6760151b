"""Fee assessment: what a dossier owes, from its procedure's public fee schedule (P-1).

Pure functions on the catalogue's ``FeeItem``s and the dossier's form data, so that the
same dossier always gets the same bill (a replay assesses identically).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from contracts.envelope import FormValue
from services.catalogue.procedures import EXEMPTION_FIELD, FeeItem, Procedure


@dataclass(frozen=True)
class FeeLine:
    """One item of a bill: what is charged for it and whether it may be paid back."""

    id: str
    name: str
    amount_vnd: int
    refundable: bool
    exempt: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "amount_vnd": self.amount_vnd,
            "refundable": self.refundable,
            "exempt": self.exempt,
        }


def assess(procedure: Procedure, form_data: dict[str, FormValue]) -> list[FeeLine]:
    """Every fee item of the procedure with its amount for this dossier, in VND."""
    group = form_data.get(EXEMPTION_FIELD)
    return [
        _line(fee, form_data, group if isinstance(group, str) else None) for fee in procedure.fees
    ]


def _line(fee: FeeItem, form_data: dict[str, FormValue], group: str | None) -> FeeLine:
    if group and group in fee.exempt_groups:
        return FeeLine(fee.id, fee.name, 0, fee.refundable, exempt=True)
    amount = fee.amount_vnd
    if fee.per_unit_field:
        units = _units(form_data.get(fee.per_unit_field))
        amount += int((units * fee.unit_amount_vnd).quantize(Decimal(1), ROUND_HALF_UP))
        if fee.min_vnd is not None and units > 0:
            amount = max(amount, fee.min_vnd)
        if fee.max_vnd is not None:
            amount = min(amount, fee.max_vnd)
    return FeeLine(fee.id, fee.name, amount, fee.refundable)


def _units(value: FormValue) -> Decimal:
    """The form's number of units; absent or blank means none (bool is not a number)."""
    if value is None or isinstance(value, bool) or value == "":
        return Decimal(0)
    try:
        units = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number of units: {value!r}") from None
    return max(units, Decimal(0))


def total(lines: list[FeeLine]) -> int:
    return sum(line.amount_vnd for line in lines)


def waiver_reason(procedure: Procedure, lines: list[FeeLine]) -> str:
    """Why nothing is due, in the words shown to the applicant."""
    if not procedure.fees:
        return "Thủ tục không thu phí, lệ phí"
    if any(line.exempt for line in lines):
        return "Người nộp thuộc đối tượng được miễn phí, lệ phí"
    return "Phí, lệ phí của hồ sơ bằng 0 đồng"


def check_digits(base: str) -> str:
    """ISO 7064 MOD 97-10 check digits, as in IBANs: a mistyped code is detected."""
    return f"{98 - (int(base) * 100) % 97:02d}"


def valid_payment_code(code: str) -> bool:
    return code.isdigit() and len(code) > 2 and check_digits(code[:-2]) == code[-2:]
