"""A report as the files offices file: CSV for any program, XLSX laid out as on paper;
the service index (``service_index.py``) as CSV.

Both carry the Vietnamese headings of the provincial layout, grouped as on the form
(``LAYOUT``): the XLSX in two header rows with the groups merged over their columns, the
CSV in one row joining group and column ("Đã giải quyết: Trước hạn"), in UTF-8 with a
byte-order mark, without which Excel reads the Vietnamese as Windows-1252.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services.stats.reports import Report
from services.stats.service_index import RATES, ServiceIndex

# (group heading, ((count, column heading), ...)); a group of one column is not split.
LAYOUT: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Kỳ trước chuyển qua", (("carried_over", "Kỳ trước chuyển qua"),)),
    (
        "Tiếp nhận trong kỳ",
        (
            ("received", "Tổng số"),
            ("received_online", "Trực tuyến"),
            ("received_counter", "Trực tiếp"),
            ("received_post", "Bưu chính"),
        ),
    ),
    (
        "Đã giải quyết",
        (
            ("resolved", "Tổng số"),
            ("resolved_early", "Trước hạn"),
            ("resolved_on_time", "Đúng hạn"),
            ("resolved_late", "Quá hạn"),
            ("resolved_late_apologised", "Quá hạn có văn bản xin lỗi"),
        ),
    ),
    ("Trả kết quả qua bưu chính", (("resolved_by_post", "Trả kết quả qua bưu chính"),)),
    (
        "Đang giải quyết cuối kỳ",
        (("open_on_time", "Trong hạn"), ("open_overdue", "Quá hạn")),
    ),
    ("Tạm dừng chờ bổ sung", (("paused", "Tạm dừng chờ bổ sung"),)),
    ("Rút hồ sơ", (("withdrawn", "Rút hồ sơ"),)),
    (
        "Từ chối",
        (
            ("refused", "Tổng số"),
            ("refused_at_intake", "Khi tiếp nhận"),
            ("rejected", "Khi giải quyết"),
        ),
    ),
)
COLUMNS = tuple(key for _, columns in LAYOUT for key, _ in columns)
GROUP_HEADING = {
    "procedure": "Thủ tục hành chính",
    "field": "Lĩnh vực",
    "agency": "Cơ quan tiếp nhận",
    "level": "Mức độ",
    "channel": "Hình thức tiếp nhận",
}


def title(report: Report) -> str:
    p = report.period
    days = f"từ {p.first:%d/%m/%Y} đến {p.last:%d/%m/%Y}"
    state = "" if report.complete else " (số liệu tạm tính, kỳ chưa kết thúc)"
    return f"Báo cáo tình hình giải quyết thủ tục hành chính kỳ {p.label}, {days}{state}"


def headings(report: Report) -> list[str]:
    """One heading per column: the group's and the column's, joined when they differ."""
    flat = [GROUP_HEADING[report.by], "Mã"]
    for group, columns in LAYOUT:
        flat += [name if name == group else f"{group}: {name}" for _, name in columns]
    return flat


def _values(row: dict[str, Any]) -> list[Any]:
    return [row["label"], row["key"], *(row[c] for c in COLUMNS)]


def to_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings(report))
    for row in [*report.rows, report.totals]:
        writer.writerow(["" if v is None else v for v in _values(row)])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(report: Report) -> bytes:
    """One sheet: the title, two header rows (groups merged over their columns), one row
    per group, the totals row in bold."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    width = 2 + len(COLUMNS)
    sheet.append([title(report)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=13)
    top: list[Any] = [GROUP_HEADING[report.by], "Mã"]
    second: list[Any] = [None, None]
    for group, columns in LAYOUT:
        top += [group] + [None] * (len(columns) - 1)
        second += [None] if len(columns) == 1 else [name for _, name in columns]
    sheet.append(top)
    sheet.append(second)
    column = 3
    for _, columns in LAYOUT:
        last = column + len(columns) - 1
        if len(columns) == 1:  # one column: its heading spans both header rows
            sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
        else:
            sheet.merge_cells(start_row=2, start_column=column, end_row=2, end_column=last)
        column = last + 1
    for c in (1, 2):
        sheet.merge_cells(start_row=2, start_column=c, end_row=3, end_column=c)
    for cells in sheet.iter_rows(min_row=2, max_row=3):
        for cell in cells:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in report.rows:
        sheet.append(_values(row))
    sheet.append(_values(report.totals))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 42
    for c in range(2, width + 1):
        sheet.column_dimensions[get_column_letter(c)].width = 12
    sheet.freeze_panes = "C4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


AVERAGE_HEADING = "Điểm hài lòng bình quân (1–5)"


def index_headings() -> list[str]:
    """The agency, then each rate's numerator, denominator and rate (0 to 1, as the JSON)."""
    flat = [GROUP_HEADING["agency"], "Mã"]
    for key, _, _, name in RATES:
        flat += [f"{name}: Tử số", f"{name}: Mẫu số", f"{name}: Tỷ lệ"]
        if key == "satisfied":
            flat.append(AVERAGE_HEADING)
    return flat


def _index_values(row: dict[str, Any]) -> list[Any]:
    values = [row["label"], row["key"]]
    for key, *_ in RATES:
        values += [row[key]["numerator"], row[key]["denominator"], row[key]["rate"]]
        if key == "satisfied":
            values.append(row["average_rating"])
    return values


def index_to_csv(index: ServiceIndex) -> bytes:
    """One row per agency, then the province's; an empty cell where a rate is null."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(index_headings())
    for row in [*index.rows, index.totals]:
        writer.writerow(["" if v is None else v for v in _index_values(row)])
    return out.getvalue().encode("utf-8-sig")
