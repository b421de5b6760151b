"""A small, valid one-page PDF: the electronic result the demo, the load driver and the
tests upload (workflow signs it, so it must be a real PDF, not a few bytes that start
like one)."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from unidecode import unidecode

A4 = (595, 842)


def one_page_pdf(*lines: str) -> bytes:
    """An A4 page with ``lines`` of text (Helvetica; accents dropped, as its standard
    encoding has no Vietnamese letters)."""
    writer = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    text = b"".join(
        b"T* (" + _escape(unidecode(line)).encode("latin-1") + b") Tj " for line in lines
    )
    content = b"BT /F1 14 Tf 18 TL 72 760 Td " + text + b"ET"
    resources = generic.DictionaryObject(
        {
            generic.pdf_name("/Font"): generic.DictionaryObject(
                {generic.pdf_name("/F1"): writer.add_object(font)}
            )
        }
    )
    page = PageObject(
        contents=writer.add_object(generic.StreamObject(stream_data=content)),
        media_box=generic.ArrayObject(list(map(generic.NumberObject, (0, 0, *A4)))),
        resources=resources,
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
