"""Payment's HTML: the public pay page, the page after the gateway, the printable receipt."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from motcua.core.calendar import VIETNAM_TZ
from motcua.core.money import money_vnd

METHODS = {
    "online": "trực tuyến qua cổng thanh toán",
    "counter": "tiền mặt tại Bộ phận Một cửa",
    "bank_transfer": "chuyển khoản",
    "post": "qua bưu chính",
}
STATUS_TEXT = {
    "paid": "đã thanh toán đủ",
    "refunded": "đã hoàn trả",
    "closed": "hồ sơ đã đóng, không phải nộp",
    "waived": "không phải nộp",
    "due": "chưa thanh toán",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.payment", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    env.filters["vnd"] = money_vnd
    return env


def pay_page(bill: dict[str, Any], action: str, error: str | None = None) -> str:
    return (
        environment()
        .get_template("pay.html")
        .render(bill=bill, action=action, error=error, status_text=STATUS_TEXT[bill["status"]])
    )


def returned_page(attempt: dict[str, Any], reported: str | None, retry_url: str) -> str:
    return (
        environment()
        .get_template("returned.html")
        .render(attempt=attempt, reported=reported, retry_url=retry_url)
    )


def receipt_page(receipt: dict[str, Any]) -> str:
    return (
        environment().get_template("receipt.html").render(r=receipt, methods=METHODS, tz=VIETNAM_TZ)
    )
