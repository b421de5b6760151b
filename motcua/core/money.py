"""Money as people read it in Vietnam. Amounts are integer đồng everywhere."""

from __future__ import annotations


def money_vnd(n: int, unit: str = "đ") -> str:
    """An amount in đồng, Vietnamese style: ``1530000`` -> ``"1.530.000 đ"``."""
    return f"{n:,}".replace(",", ".") + f" {unit}"
