"""Signing electronic results (O-5): the agency's PAdES signature, and checking one.

Real PDFs (a one-page document made with pyhanko's writer), real keys (the development
CA's, or PKCS#12 files as production configures them), pyhanko's own validation.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from devtools.pdf import one_page_pdf
from motcua.core.errors import Invalid
from motcua.runtime.settings import Settings
from services.workflow.dev_ca import DEV_ORGANIZATION, DevCA
from services.workflow.signing import NoSigningCertificate, ResultSigning

COMMUNE, COMMUNE_NAME = "001.20.51.H23", "UBND xã Tân Phú"
CODE = f"{COMMUNE}-260302-0001"
PDF = one_page_pdf("Giấy khai sinh", "Bản điện tử")


def _dev(tmp_path: Path, name: str = "var") -> ResultSigning:
    return ResultSigning.from_settings(Settings(var_dir=tmp_path / name))


def _signed(signing: ResultSigning, pdf: bytes = PDF) -> bytes:
    return signing.prepare(pdf, COMMUNE, COMMUNE_NAME, CODE)


def _tampered(signed: bytes) -> bytes:
    """The same bytes with one word of the page changed (the length kept)."""
    at = signed.index(b"(Giay khai sinh)")
    return signed[:at] + b"(Giay khai xinh)" + signed[at + 16 :]


def test_an_unsigned_pdf_is_signed_by_the_agency_and_its_signature_holds(
    tmp_path: Path,
) -> None:
    signing = _dev(tmp_path)

    signed = _signed(signing)
    checked = signing.check(signed)

    assert signed.startswith(PDF)  # an incremental update: what was uploaded, then the signature
    assert b"/ETSI.CAdES.detached" in signed  # PAdES
    assert (checked.signed, checked.valid, checked.intact, checked.trusted) == (
        True,
        True,
        True,
        True,
    )
    assert checked.reason is None
    assert checked.signer_common_name == COMMUNE_NAME
    assert checked.signer_organization == DEV_ORGANIZATION
    assert checked.signing_time is not None
    assert checked.signatures == 1


def test_the_development_ca_makes_its_root_and_each_agencys_certificate_once(
    tmp_path: Path,
) -> None:
    signing = _dev(tmp_path)
    ca = tmp_path / "var" / "dev-ca"
    assert not ca.exists()  # nothing before first use

    _signed(signing)
    first = (ca / "root.pem").read_bytes(), (ca / f"{COMMUNE}.p12").read_bytes()
    _signed(_dev(tmp_path))  # another process on the same var dir

    assert ((ca / "root.pem").read_bytes(), (ca / f"{COMMUNE}.p12").read_bytes()) == first
    key, cert, chain = pkcs12.load_key_and_certificates(first[1], None)
    assert cert is not None
    assert key is not None
    assert cert.issuer == chain[0].subject


def test_a_tampered_signed_pdf_is_invalid_and_says_why(tmp_path: Path) -> None:
    signing = _dev(tmp_path)
    tampered = _tampered(_signed(signing))

    checked = signing.check(tampered)

    assert (checked.signed, checked.valid, checked.intact) == (True, False, False)
    assert checked.reason == "the document was changed after it was signed"


def test_a_tampered_signed_pdf_is_refused_as_a_result(tmp_path: Path) -> None:
    signing = _dev(tmp_path)
    tampered = _tampered(_signed(signing))

    with pytest.raises(Invalid, match="signature is not valid: the document was changed"):
        _signed(signing, tampered)


def test_content_appended_after_the_signature_is_not_valid(tmp_path: Path) -> None:
    signing = _dev(tmp_path)
    signed = _signed(signing)
    # A second revision after the signature's: text added to the page.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    text = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 600 Td (Da sua) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(text))
    updated = io.BytesIO()
    writer.write(updated)

    checked = signing.check(updated.getvalue())

    assert updated.getvalue().startswith(signed)
    assert (checked.intact, checked.trusted, checked.valid) == (True, True, False)
    assert checked.reason == "content was added to the document after it was signed"


def test_a_pdf_signed_by_a_certificate_no_trusted_root_issued_is_refused(
    tmp_path: Path,
) -> None:
    ours = _dev(tmp_path, "ours")
    elsewhere = _signed(_dev(tmp_path, "a-stranger"))  # another CA, trusted by nobody here

    checked = ours.check(elsewhere)
    with pytest.raises(Invalid, match="not trusted") as refused:
        _signed(ours, elsewhere)

    assert (checked.intact, checked.trusted, checked.valid) == (True, False, False)
    assert checked.signer_common_name == COMMUNE_NAME  # who it claims to be, still told
    assert "signer's certificate is not trusted" in str(refused.value)


def test_a_pdf_the_agency_signed_elsewhere_is_issued_as_it_is(tmp_path: Path) -> None:
    signing = _dev(tmp_path)
    signed_elsewhere = _signed(signing)  # the same trusted root, signed before the upload

    issued = _signed(signing, signed_elsewhere)

    assert hashlib.sha256(issued).digest() == hashlib.sha256(signed_elsewhere).digest()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<xml>giay khai sinh</xml>", "must be a PDF"),
        (b"%PDF-1.4 a few bytes that only start like a PDF", "not a readable PDF"),
    ],
)
def test_a_result_that_is_not_a_readable_pdf_is_refused(
    tmp_path: Path, data: bytes, why: str
) -> None:
    signing = _dev(tmp_path)

    with pytest.raises(Invalid, match=why):
        _signed(signing, data)
    assert signing.check(data).valid is False


def test_an_unsigned_pdf_checks_as_unsigned(tmp_path: Path) -> None:
    checked = _dev(tmp_path).check(PDF)

    assert (checked.signed, checked.valid) == (False, False)
    assert checked.reason == "the document carries no signature"


# -- production: the agencies' certificates as configured ---------------------------------


def _production(tmp_path: Path) -> tuple[Settings, DevCA]:
    """A signing directory and a trusted root, as production configures them (here the
    certificates come from a CA made for the test; nothing is made on first use)."""
    ca = DevCA(tmp_path / "ca")
    keys = tmp_path / "keys"
    keys.mkdir()
    settings = Settings(
        var_dir=tmp_path / "var", result_signing_dir=keys, result_trust_roots=ca.root_path
    )
    ca.root()
    return settings, ca


def test_in_production_an_agency_without_a_certificate_gets_a_clear_error(
    tmp_path: Path,
) -> None:
    settings, _ = _production(tmp_path)
    signing = ResultSigning.from_settings(settings)

    with pytest.raises(NoSigningCertificate) as refused:
        _signed(signing)

    message = str(refused.value)
    assert f"agency {COMMUNE} has no certificate" in message
    assert f"MOTCUA_RESULT_SIGNING_DIR has no {COMMUNE}.p12" in message
    assert not (tmp_path / "var" / "dev-ca").exists()  # no development CA in production


def test_in_production_the_agencys_pkcs12_signs_with_its_passphrase(tmp_path: Path) -> None:
    settings, ca = _production(tmp_path)
    assert settings.result_signing_dir is not None
    made = pkcs12.load_key_and_certificates(ca.agency_p12(COMMUNE, COMMUNE_NAME).read_bytes(), None)
    key, cert, chain = made
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert is not None
    protected = pkcs12.serialize_key_and_certificates(
        b"xa", key, cert, chain, serialization.BestAvailableEncryption(b"mat-khau")
    )
    (settings.result_signing_dir / f"{COMMUNE}.p12").write_bytes(protected)
    signing = ResultSigning.from_settings(settings)

    with pytest.raises(NoSigningCertificate, match="passphrase"):
        _signed(signing)
    (settings.result_signing_dir / f"{COMMUNE}.pass").write_text("mat-khau\n")
    checked = signing.check(_signed(signing))

    assert checked.valid is True
    assert checked.signer_common_name == COMMUNE_NAME


def test_a_signing_directory_without_trusted_roots_is_refused_at_start(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", result_signing_dir=tmp_path)

    with pytest.raises(ValueError, match="MOTCUA_RESULT_TRUST_ROOTS"):
        ResultSigning.from_settings(settings)


def test_in_production_the_development_root_is_not_trusted(tmp_path: Path) -> None:
    settings, _ = _production(tmp_path)
    dev_signed = _signed(_dev(tmp_path, "dev"))

    checked = ResultSigning.from_settings(settings).check(dev_signed)

    assert (checked.intact, checked.trusted, checked.valid) == (True, False, False)
