"""The public lookup page's HTML: the form, and the dossier's public part in Vietnamese.

The page shows what ``GET /v1/dossiers/{ref}`` gives the holder of the code and ID
number, no more: the status, the receipt and return times with their hours, and the
timeline with each event's time and the agency that acted.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from motcua.core.calendar import VIETNAM_TZ

STATUSES = {
    "submitted": "Đã nộp, chờ tiếp nhận",
    "completion_requested": "Cần bổ sung trước khi tiếp nhận",
    "resubmitted": "Đã bổ sung, chờ tiếp nhận",
    "received": "Đã tiếp nhận",
    "refused": "Từ chối tiếp nhận",
    "withdrawn": "Đã rút hồ sơ",
    "in_process": "Đang giải quyết",
    "supplement_requested": "Tạm dừng, chờ bổ sung",
    "approved": "Đã được phê duyệt",
    "rejected": "Không giải quyết",
    "result_ready": "Đã có kết quả",
    "returned": "Đã trả kết quả",
}
EVENTS = {
    "Submitted": "Nộp hồ sơ",
    "CompletionRequested": "Yêu cầu bổ sung trước khi tiếp nhận",
    "Resubmitted": "Nộp lại hồ sơ đã bổ sung",
    "Received": "Tiếp nhận hồ sơ, hẹn trả kết quả",
    "IntakeRefused": "Từ chối tiếp nhận",
    "Withdrawn": "Rút hồ sơ",
    "Rated": "Đánh giá sự hài lòng",
    "FeedbackSent": "Gửi phản ánh, kiến nghị",
    "FeedbackAnswered": "Trả lời phản ánh, kiến nghị",
    "DossierHandedOver": "Chuyển xử lý",
    "SupplementRequested": "Yêu cầu bổ sung, tạm dừng thời hạn",
    "SupplementProvided": "Đã bổ sung, hẹn lại ngày trả",
    "DossierApproved": "Phê duyệt",
    "DossierRejected": "Không giải quyết",
    "ResultIssued": "Có kết quả",
    "ResultReturned": "Trả kết quả",
    "DossierOverdue": "Quá hạn",
    "ApologyIssued": "Xin lỗi, hẹn lại ngày trả",
    "FeeAssessed": "Thông báo phí, lệ phí",
    "FeeWaived": "Miễn phí, lệ phí",
    "PaymentSucceeded": "Đã nộp phí, lệ phí",
    "RefundSucceeded": "Hoàn trả phí, lệ phí",
}
MOMENT = "%H giờ %M, ngày %d/%m/%Y"


@cache
def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("services.intake", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    environment.filters["moment"] = _moment
    environment.filters["day"] = _day
    return environment


def _moment(value: datetime | str | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VIETNAM_TZ).strftime(MOMENT)


def _day(value: date | str | None) -> str:
    if value is None:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def render_lookup_page(
    *, code: str, dossier: dict[str, Any] | None = None, not_found: bool = False
) -> str:
    """The form (with ``code``), and the dossier found or the no-match message."""
    return (
        _templates()
        .get_template("lookup.html")
        .render(
            code=code,
            d=dossier,
            not_found=not_found,
            statuses=STATUSES,
            events=EVENTS,
        )
    )
