"""Notice texts (services/notify/render.py and its templates): every kind on every channel."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
from jinja2 import UndefinedError

from motcua.core.money import money_vnd
from services.notify.render import CHANNELS, KINDS, Channel, Rendered, render
from services.notify.sms import segments

CODE = "000.00.12.H56-261122-0001"
LOOKUP_URL = f"https://dichvucong.example.gov.vn/tra-cuu/{CODE}"
RESULT_URL = f"https://dichvucong.example.gov.vn/v1/dossiers/{CODE}/result/document"
OPTIONAL = (
    "code",
    "lookup_url",
    "result_url",
    "appointment_date",
    "appointment_time",
    "reason",
    "payment_url",
    "amount_vnd",
    "result_kind",
    "new_appointment_date",
    "tracking_number",
    "postal_operator",
    "received_by",
)


def full_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "applicant_name": "Nguyễn Thị Hồng Nhung",
        "code": CODE,
        "procedure_name": "Đăng ký khai sinh",
        "agency_name": "UBND phường Bến Thành",
        "lookup_url": LOOKUP_URL,
        "appointment_date": "05/12/2026",
        "appointment_time": "15 giờ 00",
        "reason": "Tờ khai thiếu chữ ký của người đi đăng ký",
        "documents": ["Tờ khai đăng ký khai sinh", "Giấy chứng sinh"],
        "payment_url": "https://thanhtoan.example.gov.vn/p/8f3a",
        "amount_vnd": 1530000,
        "result_kind": "electronic",
        "result_url": RESULT_URL,
        "new_appointment_date": "12/12/2026",
        "tracking_number": "EB123456789VN",
        "postal_operator": "Bưu điện tỉnh Đồng Tháp",
        "received_by": "Nguyễn Văn Hải",
    }
    data.update(changes)
    return data


def sparse_data() -> dict[str, Any]:
    return full_data(documents=[], **dict.fromkeys(OPTIONAL))


SAMPLES = {"full": full_data, "sparse": sparse_data}


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_on_every_channel_without_none_text(
    kind: str, channel: Channel, sample: str
) -> None:
    data = SAMPLES[sample]()

    rendered = render(kind, channel, data)

    assert rendered.body
    assert "None" not in rendered.subject
    assert "None" not in rendered.body


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("kind", KINDS)
def test_email_subject_is_one_non_empty_line(kind: str, sample: str) -> None:
    data = SAMPLES[sample]()

    subject = render(kind, "email", data).subject

    assert subject
    assert "\n" not in subject
    assert subject == subject.strip()


@pytest.mark.parametrize("kind", KINDS)
def test_line_breaks_in_the_data_do_not_break_the_subject(kind: str) -> None:
    data = full_data(applicant_name="Trần Văn A\r\nBcc: x@example.com", code="G01\n-1")

    subject = render(kind, "email", data).subject

    assert "\n" not in subject
    assert "\r" not in subject


def test_received_email_gives_code_appointment_with_its_hour_and_lookup_url() -> None:
    data = full_data()

    body = render("received", "email", data).body

    assert f"Mã hồ sơ: {CODE}" in body
    assert "Thời gian hẹn trả kết quả: 15 giờ 00, ngày 05/12/2026" in body
    assert LOOKUP_URL in body


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("kind", KINDS)
def test_email_is_polite_vietnamese_with_diacritics_and_signed(kind: str, sample: str) -> None:
    data = SAMPLES[sample]()

    body = render(kind, "email", data).body

    assert body.startswith("Kính gửi Ông/Bà Nguyễn Thị Hồng Nhung,\n\n")
    assert "\n\nTrân trọng,\nUBND phường Bến Thành\n" in body
    assert "\n\n\n" not in body


@pytest.mark.parametrize("kind", KINDS)
def test_inbox_shows_the_email_subject_and_body(kind: str) -> None:
    data = full_data()

    inbox = render(kind, "inbox", data)

    assert inbox == render(kind, "email", data)
    assert isinstance(inbox, Rendered)


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("kind", KINDS)
def test_sms_has_no_subject_starts_with_the_tag_and_fits_in_two_segments(
    kind: str, sample: str
) -> None:
    data = SAMPLES[sample]()

    sms = render(kind, "sms", data)

    assert sms.subject == ""
    assert sms.body.startswith("DVC:")
    assert "\n" not in sms.body
    assert 1 <= segments(sms.body) <= 2


@pytest.mark.parametrize("kind", KINDS)
def test_sms_fits_in_two_segments_even_with_very_long_data(kind: str) -> None:
    data = full_data(
        procedure_name="Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt " * 5,
        reason="Bản vẽ thiết kế chưa có chữ ký, đóng dấu của đơn vị tư vấn thiết kế " * 5,
    )

    body = render(kind, "sms", data).body

    assert segments(body) <= 2


@pytest.mark.parametrize("kind", ["refused", "rejected"])
def test_line_breaks_in_the_data_do_not_reach_the_sms(kind: str) -> None:
    data = full_data(lookup_url=None, reason="Thiếu giấy tờ:\n- Giấy chứng sinh\r\n- Tờ khai")

    body = render(kind, "sms", data).body

    assert body == body.strip()
    assert "\n" not in body
    assert "\r" not in body


def test_received_sms_keeps_the_code_and_lookup_url_by_dropping_diacritics() -> None:
    data = full_data()

    body = render("received", "sms", data).body

    assert body.startswith(f"DVC: Ho so {CODE} da duoc tiep nhan")
    assert body.endswith(LOOKUP_URL)


def test_short_sms_keeps_its_diacritics() -> None:
    data = sparse_data()

    body = render("received", "sms", data).body

    assert body == "DVC: Hồ sơ đã được tiếp nhận."


def test_payment_confirmation_states_the_amount_in_vietnamese_format() -> None:
    data = full_data(amount_vnd=1530000)

    rendered = render("payment_confirmed", "email", data)

    assert "đã thanh toán số tiền 1.530.000 đ" in rendered.body
    assert "1.530.000 đ" in render("payment_confirmed", "sms", data).body


def test_completion_request_lists_reason_and_documents() -> None:
    data = full_data()

    body = render("completion_requested", "email", data).body

    assert "hoàn thiện hồ sơ" in body
    assert "Lý do: Tờ khai thiếu chữ ký của người đi đăng ký" in body
    assert "- Tờ khai đăng ký khai sinh\n- Giấy chứng sinh\n" in body


def test_supplement_request_lists_documents_and_says_the_clock_pauses() -> None:
    data = full_data()

    body = render("supplement_requested", "email", data).body

    assert "bổ sung" in body
    assert "Lý do: Tờ khai thiếu chữ ký" in body
    assert "- Giấy chứng sinh" in body
    assert "tạm dừng" in body


def test_overdue_apology_apologises_with_reason_and_new_appointment_date() -> None:
    data = full_data(reason="Chờ ý kiến của cơ quan phối hợp")

    rendered = render("overdue_apology", "email", data)

    assert "xin lỗi" in rendered.subject.lower()
    assert "xin lỗi" in rendered.body
    assert "Lý do: Chờ ý kiến của cơ quan phối hợp" in rendered.body
    assert "12/12/2026" in rendered.body


def test_overdue_apology_without_new_date_promises_to_announce_one() -> None:
    data = full_data(new_appointment_date=None)

    body = render("overdue_apology", "email", data).body

    assert "ngày hẹn trả kết quả mới" in body


def test_electronic_result_ready_gives_the_download_and_who_may_open_it() -> None:
    data = full_data()

    body = render("result_ready", "email", data).body

    assert f"tải bản điện tử của kết quả tại: {RESULT_URL}" in body
    assert "tài khoản đã nộp hồ sơ" in body
    assert "mã hồ sơ và số định danh cá nhân" in body


def test_electronic_result_ready_sms_carries_the_download_link() -> None:
    data = full_data()

    body = render("result_ready", "sms", data).body

    assert body.endswith(RESULT_URL)


@pytest.mark.parametrize("result_kind", ["pickup", "post"])
def test_result_ready_without_an_electronic_result_offers_no_download(result_kind: str) -> None:
    data = full_data(result_kind=result_kind)

    email = render("result_ready", "email", data).body
    sms = render("result_ready", "sms", data).body

    assert RESULT_URL not in email
    assert RESULT_URL not in sms
    assert "tải bản điện tử" not in email


@pytest.mark.parametrize(
    ("result_kind", "wording"),
    [
        ("electronic", "tải bản điện tử"),
        ("pickup", "nhận kết quả tại Bộ phận Một cửa"),
        ("post", "qua dịch vụ bưu chính"),
    ],
)
def test_result_ready_says_how_to_get_the_result(result_kind: str, wording: str) -> None:
    data = full_data(result_kind=result_kind)

    body = render("result_ready", "email", data).body

    assert "đã có kết quả" in body
    assert wording in body


@pytest.mark.parametrize(
    ("kind", "wording"),
    [("refused", "không được tiếp nhận"), ("rejected", "không được giải quyết")],
)
def test_refusal_and_rejection_give_the_reason(kind: str, wording: str) -> None:
    data = full_data(code=None, reason="Thủ tục không thuộc thẩm quyền của cơ quan")

    body = render(kind, "email", data).body

    assert wording in body
    assert "Lý do: Thủ tục không thuộc thẩm quyền của cơ quan" in body


def test_unknown_kind_raises_key_error_naming_it() -> None:
    data = full_data()

    with pytest.raises(KeyError, match="withdrawn"):
        render("withdrawn", "email", data)


def test_missing_variable_is_an_error_not_a_blank() -> None:
    data = full_data()
    del data["applicant_name"]

    with pytest.raises(UndefinedError):
        render("received", "email", data)


def test_templates_are_exactly_subject_email_and_sms_for_each_kind() -> None:
    folder = files("services.notify").joinpath("templates")

    names = {entry.name for entry in folder.iterdir() if entry.name.endswith(".j2")}

    expected = {f"{kind}.{part}.j2" for kind in KINDS for part in ("subject", "email", "sms")}
    assert names == expected


@pytest.mark.parametrize(
    ("amount", "text"),
    [(1530000, "1.530.000 đ"), (0, "0 đ"), (500, "500 đ"), (1000, "1.000 đ")],
)
def test_money_is_formatted_with_dots_for_thousands_and_dong_sign(amount: int, text: str) -> None:
    value = amount

    formatted = money_vnd(value)

    assert formatted == text


@pytest.mark.parametrize("kind", ["posted", "post_delivered", "post_returned"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_postal_notices_give_the_tracking_number(kind: str, channel: Channel) -> None:
    rendered = render(kind, channel, full_data(result_kind="post"))
    assert "EB123456789VN" in rendered.body
    if channel != "sms":
        assert CODE in rendered.subject
