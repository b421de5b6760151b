"""SMS length rules (services/notify/sms.py): GSM-7 versus UCS-2, segments, fitting."""

from __future__ import annotations

import unicodedata

import pytest

from services.notify.sms import fit_sms, is_gsm7, segments, septets, unaccented

RECEIVED_VI = "Hồ sơ đã được tiếp nhận. "  # 25 characters, most of them outside GSM-7


def test_plain_ascii_is_gsm7() -> None:
    text = "DVC: Ho so G01-261122-0001 da co ket qua. Tra cuu: https://dvc.example.vn/?q=1"

    result = is_gsm7(text)

    assert result is True


def test_vietnamese_letter_with_diacritics_is_not_gsm7() -> None:
    text = "Hồ sơ hợp lệ"

    result = is_gsm7(text)

    assert result is False
    assert is_gsm7("ệ") is False


def test_euro_sign_is_gsm7_and_takes_two_septets() -> None:
    text = "€"

    gsm = is_gsm7(text)
    length = septets(text)

    assert gsm is True
    assert length == 2


def test_every_extension_character_takes_two_septets() -> None:
    text = "^{}\\[~]|€\f"

    length = septets(text)

    assert is_gsm7(text) is True
    assert length == 2 * len(text)


def test_160_gsm_characters_are_one_segment() -> None:
    text = "a" * 160

    count = segments(text)

    assert count == 1


def test_161_gsm_characters_are_two_segments() -> None:
    text = "a" * 161

    count = segments(text)

    assert count == 2


def test_307_gsm_characters_are_three_segments_of_153() -> None:
    text = "a" * 307

    count = segments(text)

    assert count == 3


def test_extension_characters_count_double_towards_the_segment_limit() -> None:
    fits, overflows = "€" * 80, "€" * 81

    counts = segments(fits), segments(overflows)

    assert counts == (1, 2)


def test_70_vietnamese_characters_are_one_segment() -> None:
    text = "ệ" * 70

    count = segments(text)

    assert count == 1


def test_71_vietnamese_characters_are_two_segments() -> None:
    text = "ệ" * 71

    count = segments(text)

    assert count == 2


def test_one_non_gsm_character_makes_the_whole_text_ucs2() -> None:
    text = "a" * 70 + "ệ"

    count = segments(text)

    assert count == 2


def test_empty_text_is_no_segment() -> None:
    text = ""

    count = segments(text)

    assert count == 0


def test_unaccented_drops_vietnamese_diacritics_and_d_stroke() -> None:
    text = "Đăng ký khai sinh"

    result = unaccented(text)

    assert result == "Dang ky khai sinh"


def test_unaccented_keeps_digits_punctuation_and_gsm_symbols() -> None:
    text = "Hồ sơ số 12/2026: đã nộp 1.530.000 đ (≈ 60 €)!"

    result = unaccented(text)

    assert result.startswith("Ho so so 12/2026: da nop 1.530.000 d (")
    assert result.endswith("60 €)!")
    assert is_gsm7(result)


def test_unaccented_also_strips_diacritics_that_gsm7_happens_to_have() -> None:
    text = "Hà Nội, Huế"

    result = unaccented(text)

    assert is_gsm7("à") is True
    assert result == "Ha Noi, Hue"


def test_unaccented_handles_decomposed_unicode_and_typographic_marks() -> None:
    text = unicodedata.normalize("NFD", "“Giấy chứng sinh” – bản sao…")

    result = unaccented(text)

    assert result == '"Giay chung sinh" - ban sao...'
    assert is_gsm7(result)


def test_fit_sms_keeps_short_vietnamese_text_with_its_diacritics() -> None:
    text = "DVC: Hồ sơ G01-261122-0001 đã có kết quả."

    sent, encoding = fit_sms(text)

    assert sent == text
    assert encoding == "ucs2"


def test_fit_sms_reports_gsm7_for_plain_text() -> None:
    text = "DVC: Ho so G01-261122-0001 da co ket qua."

    sent, encoding = fit_sms(text)

    assert sent == text
    assert encoding == "gsm7"


def test_fit_sms_drops_diacritics_when_accented_text_needs_three_segments() -> None:
    text = RECEIVED_VI * 6

    sent, encoding = fit_sms(text)

    assert segments(text) == 3
    assert sent == unaccented(text)
    assert encoding == "gsm7"
    assert segments(sent) <= 2


def test_fit_sms_truncates_on_a_word_boundary_when_even_unaccented_is_too_long() -> None:
    text = RECEIVED_VI * 20
    plain = unaccented(text)

    sent, encoding = fit_sms(text)

    stem = sent.removesuffix("...")
    assert segments(plain) > 2
    assert sent.endswith("...")
    assert encoding == "gsm7"
    assert segments(sent) == 2
    assert plain.startswith(stem)
    assert not plain[len(stem)].isalnum()
    assert septets(sent) > 2 * 153 - len("tiep nhan. ...")


def test_fit_sms_truncation_respects_a_one_segment_budget() -> None:
    text = RECEIVED_VI * 20

    sent, _ = fit_sms(text, max_segments=1)

    assert sent.endswith("...")
    assert septets(sent) <= 160
    assert segments(sent) == 1


def test_fit_sms_cuts_inside_a_word_when_there_is_no_word_boundary() -> None:
    text = "a" * 400

    sent, _ = fit_sms(text)

    assert sent == "a" * 303 + "..."
    assert segments(sent) == 2


def test_fit_sms_uses_all_160_septets_of_a_single_segment() -> None:
    text = "a" * 400

    sent, _ = fit_sms(text, max_segments=1)

    assert sent == "a" * 157 + "..."


def test_fit_sms_truncation_drops_punctuation_before_the_ellipsis() -> None:
    text = "chứng, " * 100

    sent, _ = fit_sms(text)

    assert sent.endswith(", chung...")
    assert segments(sent) == 2


def test_fit_sms_sends_decomposed_input_composed() -> None:
    text = unicodedata.normalize("NFD", "Đăng ký khai sinh")

    sent, _ = fit_sms(text)

    assert sent == unicodedata.normalize("NFC", text)


def test_fit_sms_refuses_a_budget_below_one_segment() -> None:
    text = "DVC"

    with pytest.raises(ValueError, match="max_segments"):
        fit_sms(text, max_segments=0)
