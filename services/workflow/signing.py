"""Signed electronic results (O-5): the agency's PAdES signature, and checking one.

A data message has the legal validity of the paper result when it is signed with the
issuing agency's digital signature. Workflow therefore never issues an electronic result
nothing signs:

* an **unsigned PDF** is signed with the agency's certificate and key (PAdES baseline
  B-B: a CAdES detached signature, ``ETSI.CAdES.detached``, SHA-256, no time stamp), and
  the signed file is what is stored, served and hashed;
* a **PDF the agency signed elsewhere** (its own signing device) is kept as it is, once
  every signature in it is intact and its signer's certificate chains to a trusted root;
  an invalid one is refused (422) with the reason;
* **anything else** (not a PDF, an unreadable or encrypted PDF) is refused (422): only a
  PDF carries a signature here, and an unsigned file would have no legal validity.

The agencies' keys come from ``MOTCUA_RESULT_SIGNING_DIR`` (``<agency code>.p12``, and
``<agency code>.pass`` holding its passphrase, if it has one) and the trusted roots from
``MOTCUA_RESULT_TRUST_ROOTS``. Without a signing directory, the development CA
(``dev_ca.py``) makes the root and each agency's certificate on first use.

The check (``check``) answers for any file: whether it is signed, whether each signature
is intact and valid and its signer trusted (at the time of the check, without revocation
lookups), who signed (the certificate's CN and O) and when the signer says it signed.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from motcua.core.errors import Conflict, Invalid
from motcua.runtime.settings import Settings
from services.workflow.dev_ca import DevCA

PDF_MAGIC = b"%PDF-"
FIELD_NAME = "KetQuaGiaiQuyet"
# Agency codes as the catalogue writes them (000.00.31.H23): a file name, never a path.
AGENCY_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
TRUST_ROOT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
# Updates after a signature that leave what was signed as it was (validation data).
HARMLESS_UPDATES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
CHANGED_AFTER = "content was added to the document after it was signed"


class NoSigningCertificate(Conflict):
    """The agency has no certificate to sign with (production: none configured)."""


@dataclass(frozen=True)
class SignatureCheck:
    """What checking a file's signature found (the result check's ``signature``)."""

    signed: bool
    valid: bool
    intact: bool
    trusted: bool
    reason: str | None
    signer_common_name: str | None = None
    signer_organization: str | None = None
    signing_time: datetime | None = None
    signatures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_pdf(data: bytes) -> bool:
    """A PDF starts with its header (``%PDF-``) within its first kilobyte."""
    return PDF_MAGIC in data[:1024]


class AgencyKeys:
    """The agencies' signing keys: ``<directory>/<agency code>.p12`` (+ ``.pass``)."""

    def __init__(self, directory: Path, setting: str = "MOTCUA_RESULT_SIGNING_DIR") -> None:
        self.directory = directory
        self.setting = setting

    def p12(self, agency_code: str, agency_name: str | None) -> Path:
        return self.directory / f"{agency_code}.p12"

    def signer(self, agency_code: str, agency_name: str | None = None) -> signers.SimpleSigner:
        if not AGENCY_CODE.match(agency_code):
            raise NoSigningCertificate(f"agency code {agency_code!r} cannot name a certificate")
        path = self.p12(agency_code, agency_name)
        if not path.is_file():
            raise NoSigningCertificate(
                f"agency {agency_code} has no certificate to sign electronic results with: "
                f"{self.setting} has no {path.name} (ask the administrator to install the "
                "agency's PKCS#12 file), or upload the result already signed with the "
                "agency's digital signature"
            )
        secret = path.with_suffix(".pass")
        passphrase = secret.read_bytes().strip() if secret.is_file() else None
        try:
            signer: signers.SimpleSigner = signers.SimpleSigner.load_pkcs12_data(
                path.read_bytes(), [], passphrase
            )
        except ValueError as e:
            raise NoSigningCertificate(
                f"agency {agency_code}'s certificate {path.name} cannot be read "
                f"(a wrong or missing passphrase in {secret.name}?): {e}"
            ) from None
        return signer


class DevAgencyKeys(AgencyKeys):
    """The development CA's certificates, each made when its agency first signs."""

    def __init__(self, ca: DevCA) -> None:
        super().__init__(ca.directory, "the development CA")
        self.ca = ca

    def p12(self, agency_code: str, agency_name: str | None) -> Path:
        return self.ca.agency_p12(agency_code, agency_name)


def load_trust_roots(path: Path) -> list[asn1_x509.Certificate]:
    """The certificates of a PEM/DER file, or of every such file in a directory."""
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in TRUST_ROOT_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    roots = [cert for f in files for cert in load_certs_from_pemder_data(f.read_bytes())]
    if not roots:
        raise ValueError(f"MOTCUA_RESULT_TRUST_ROOTS: no certificate in {path}")
    return roots


def signing_problem(settings: Settings) -> str | None:
    """Why workflow must not start with these settings, or None: outside dev mode the
    agencies' own certificates are required, never the development CA (whose results
    nobody outside this machine could trust)."""
    if settings.result_signing_dir is None and not settings.dev_mode:
        return (
            "MOTCUA_RESULT_SIGNING_DIR is not set and dev mode is off: name the directory "
            "of the agencies' certificates (<agency code>.p12) and MOTCUA_RESULT_TRUST_ROOTS; "
            "the development CA is for MOTCUA_DEV_MODE=true only"
        )
    return None


class ResultSigning:
    """Signs electronic results with the issuing agency's key and checks signed PDFs."""

    def __init__(
        self,
        keys: AgencyKeys,
        trust_roots: Callable[[], list[asn1_x509.Certificate]],
        location: str,
    ) -> None:
        self.keys = keys
        self.trust_roots = trust_roots
        self.location = location
        # pyhanko logs each untrusted signer with a traceback; the check reports it instead.
        logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)

    @classmethod
    def from_settings(cls, settings: Settings) -> ResultSigning:
        """Configured keys and roots, or the development CA (made on first use).

        A signing directory without trusted roots is refused at start: nothing signed
        could then be checked."""
        location = f"tỉnh {settings.province}"
        configured = (
            load_trust_roots(settings.result_trust_roots) if settings.result_trust_roots else []
        )
        if settings.result_signing_dir is not None:
            if not configured:
                raise ValueError(
                    "MOTCUA_RESULT_SIGNING_DIR is set without MOTCUA_RESULT_TRUST_ROOTS: "
                    "name the roots the agencies' certificates chain to"
                )
            if not settings.result_signing_dir.is_dir():
                raise ValueError(
                    f"MOTCUA_RESULT_SIGNING_DIR: {settings.result_signing_dir} is not a directory"
                )
            return cls(AgencyKeys(settings.result_signing_dir), lambda: configured, location)
        ca = DevCA(settings.var_dir / "dev-ca")

        def dev_roots() -> list[asn1_x509.Certificate]:
            der = ca.root().public_bytes(serialization.Encoding.DER)
            return [*configured, asn1_x509.Certificate.load(der)]

        return cls(DevAgencyKeys(ca), dev_roots, location)

    # -- issuing ----------------------------------------------------------------------

    def prepare(self, data: bytes, agency_code: str, agency_name: str | None, code: str) -> bytes:
        """The electronic result as it is issued: ``data`` signed by the agency, or, when
        the agency signed it already, ``data`` itself once its signatures hold.

        Raises ``Invalid`` for a file that is not a readable PDF or whose signature does
        not hold, ``NoSigningCertificate`` when the agency has no key to sign with."""
        reader = _read_pdf(data)
        if reader.embedded_signatures:
            checked = self.check(data)
            if not checked.valid:
                raise Invalid(f"the document's signature is not valid: {checked.reason}")
            return data
        return self.sign(data, agency_code, agency_name, code)

    def sign(self, data: bytes, agency_code: str, agency_name: str | None, code: str) -> bytes:
        """``data`` (an unsigned PDF) with the agency's PAdES B-B signature added as an
        incremental update: the original bytes stay as they were, then the signature."""
        signer = self.keys.signer(agency_code, agency_name)
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            reason=f"Kết quả giải quyết thủ tục hành chính, hồ sơ {code}",
            location=self.location,
        )
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(data))
            signed: io.BytesIO = signers.sign_pdf(writer, meta, signer=signer)
        except (ValueError, KeyError, TypeError) as e:
            raise Invalid(f"the PDF cannot be signed: {e}") from None
        return signed.getvalue()

    # -- checking ---------------------------------------------------------------------

    def check(self, data: bytes) -> SignatureCheck:
        """The file's signatures, checked; never raises for a bad file (it says why)."""
        if not is_pdf(data):
            return _unsigned("not a PDF: only a signed PDF result can be checked")
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            if reader.encrypted:
                return _unsigned("the PDF is encrypted")
            embedded = list(reader.embedded_signatures)
        except Exception as e:
            return _unsigned(f"not a readable PDF ({e})")
        if not embedded:
            return _unsigned("the document carries no signature")
        roots = self.trust_roots()
        statuses: list[PdfSignatureStatus] = []
        for signature in embedded:
            context = ValidationContext(trust_roots=roots, allow_fetching=False)
            try:
                statuses.append(validate_pdf_signature(signature, context))
            except Exception as e:
                return SignatureCheck(
                    signed=True,
                    valid=False,
                    intact=False,
                    trusted=False,
                    reason=f"the signature cannot be read ({e})",
                    signatures=len(embedded),
                )
        last = statuses[-1]
        problems = [p for p in map(_problem, statuses) if p]
        if last.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
            last.modification_level not in HARMLESS_UPDATES
        ):
            problems.append(CHANGED_AFTER)
        subject = last.signing_cert.subject.native
        return SignatureCheck(
            signed=True,
            valid=not problems,
            intact=all(s.intact for s in statuses),
            trusted=all(s.trusted for s in statuses),
            reason="; ".join(dict.fromkeys(problems)) or None,
            signer_common_name=_one(subject.get("common_name")),
            signer_organization=_one(subject.get("organization_name")),
            signing_time=last.signer_reported_dt,
            signatures=len(statuses),
        )


def _read_pdf(data: bytes) -> PdfFileReader:
    """The electronic result as a PDF, or ``Invalid`` saying why it cannot be one."""
    if not is_pdf(data):
        raise Invalid(
            "an electronic result must be a PDF (application/pdf): it is issued signed with "
            "the agency's digital signature, which only a PDF carries here"
        )
    try:
        reader = PdfFileReader(io.BytesIO(data))
        encrypted = reader.encrypted
        reader.embedded_signatures  # noqa: B018 (reads the form: fails on a broken file)
    except Exception as e:
        raise Invalid(f"the electronic result is not a readable PDF ({e})") from None
    if encrypted:
        raise Invalid("the electronic result is an encrypted PDF: upload it unencrypted")
    return reader


def _problem(status: PdfSignatureStatus) -> str | None:
    if not status.intact:
        return "the document was changed after it was signed"
    if not status.valid:
        return "the signature does not match the signer's certificate"
    if not status.trusted:
        indication = status.trust_problem_indic
        why = f" ({indication.standard_name})" if indication else ""
        return (
            f"the signer's certificate is not trusted{why}: it must chain to a trusted "
            "root and be valid now"
        )
    if not status.bottom_line:
        return CHANGED_AFTER
    return None


def _unsigned(reason: str) -> SignatureCheck:
    return SignatureCheck(signed=False, valid=False, intact=False, trusted=False, reason=reason)


def _one(value: Any) -> str | None:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or None
    return str(value) if value is not None else None
