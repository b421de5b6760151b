"""SMS length rules: GSM-7 versus UCS-2, segments, and fitting a notice into a budget.

An SMS carries 140 bytes. Text written entirely in the GSM 03.38 alphabet is packed as
7-bit septets (160 per message); a single character outside it (and most Vietnamese
letters with diacritics are: "ă", "ơ", "đ", "ệ", ...) switches the whole message to
UCS-2, two bytes per character, 70 per message. Long messages are split into segments
whose user-data header leaves 153 septets or 67 UCS-2 units each, and the gateway
bills every segment. So a Vietnamese notice costs more than twice as much with its
diacritics as without them, which is why ``fit_sms`` drops them when they do not fit.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Literal

from unidecode import unidecode

Encoding = Literal["gsm7", "ucs2"]

# GSM 03.38 default alphabet (one septet each), in table order; 0x1B, the escape to the
# extension table, is not a character of its own.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: reached through the escape septet, so two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67

ELLIPSIS = "..."
# ASCII characters unidecode may produce that GSM-7 lacks, and their stand-ins.
_ASCII_TO_GSM7 = {"`": "'", "\t": " "}
_TRAILING_PUNCTUATION = " \t\n\r,;:.-"
_WHITESPACE = re.compile(r"\s")


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM 03.38 default alphabet or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def septets(text: str) -> int:
    """Length of GSM-7 ``text`` in septets: extension characters take two (escape + code)."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units, as UCS-2 gateways count (astral characters take two)."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """Number of SMS segments ``text`` is billed as; 0 for the empty text (nothing is sent)."""
    if not text:
        return 0
    if is_gsm7(text):
        length, single, multi = septets(text), GSM7_SINGLE, GSM7_MULTI
    else:
        length, single, multi = utf16_units(text), UCS2_SINGLE, UCS2_MULTI
    return 1 if length <= single else math.ceil(length / multi)


def unaccented(text: str) -> str:
    """Vietnamese without diacritics ("Đăng ký" -> "Dang ky"), always GSM-7.

    Letters outside ASCII are transliterated by ``unidecode`` even when GSM-7 has them
    ("à", "é" are GSM-7 but still Vietnamese diacritics); GSM-7 symbols such as "€" or
    "£" are kept; anything else is transliterated ("…" -> "...", "“" -> '"'), and what
    is still not GSM-7 after that (a backtick, control characters) is replaced or dropped.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii() or ((ch in GSM7_BASIC or ch in GSM7_EXTENSION) and not ch.isalpha()):
            out.append(ch)
        else:
            out.append(unidecode(ch))
    result = "".join(_ASCII_TO_GSM7.get(ch, ch) for ch in "".join(out))
    return "".join(ch for ch in result if ch in GSM7_BASIC or ch in GSM7_EXTENSION)


def encoding_of(text: str) -> Encoding:
    """The encoding a gateway will use for ``text``."""
    return "gsm7" if is_gsm7(text) else "ucs2"


def fit_sms(text: str, max_segments: int = 2) -> tuple[str, Encoding]:
    """The text to send and its encoding, within ``max_segments`` segments.

    Prefer the text as written (with diacritics, hence usually UCS-2: 70 characters a
    segment). If that is too long, send it without diacritics: it becomes GSM-7 and
    more than twice as long a text fits. If even that is too long, cut the unaccented
    text on a word boundary and end it with "...", so it fills the budget without
    exceeding it. The text is NFC-normalised first: decomposed diacritics would cost
    one UCS-2 unit per combining mark.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}")
    text = unicodedata.normalize("NFC", text)
    if segments(text) <= max_segments:
        return text, encoding_of(text)
    plain = unaccented(text)
    if segments(plain) <= max_segments:
        return plain, "gsm7"
    return _truncate(plain, max_segments), "gsm7"


def _truncate(plain: str, max_segments: int) -> str:
    """The longest word-boundary prefix of GSM-7 ``plain`` that fits with "..." appended."""
    budget = GSM7_SINGLE if max_segments == 1 else GSM7_MULTI * max_segments
    room = budget - septets(ELLIPSIS)
    best = ""
    for match in _WHITESPACE.finditer(plain):
        candidate = plain[: match.start()].rstrip(_TRAILING_PUNCTUATION)
        if septets(candidate) > room:
            break
        best = candidate
    if not best:  # no word boundary early enough: cut inside the first word
        for ch in plain:
            if septets(best + ch) > room:
                break
            best += ch
    return best + ELLIPSIS
