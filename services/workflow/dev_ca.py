"""The development CA: a root and one certificate per agency, made on first use.

Where no agency certificates are configured (``MOTCUA_RESULT_SIGNING_DIR`` unset: the
embedded stack, the demo, the tests), workflow signs electronic results with
certificates of its own making, kept under ``<var dir>/dev-ca/``:

* ``root.pem`` and ``root.key.pem``: the root CA (trusted by the check in development;
  import ``root.pem`` into a PDF reader to see the signatures as trusted there);
* ``<agency code>.p12``: the agency's key and certificate with the root (PKCS#12, no
  passphrase), the same layout as a configured signing directory.

Keys are EC P-256: each is made in a millisecond or two. Several processes sharing the
var dir make each file once (an exclusive lock around the making). Nothing here is for
production: the certificates say so in their organisation, and no one outside trusts
the root.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

DEV_ORGANIZATION = "motcua development CA (not for legal use)"
ROOT_NAME = "motcua development root CA"
ROOT_YEARS = 20
AGENCY_YEARS = 5


class DevCA:
    """The development root and the agencies' certificates, under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def root_path(self) -> Path:
        return self.directory / "root.pem"

    def root(self) -> x509.Certificate:
        """The root certificate (made on first use)."""
        if not self.root_path.is_file():
            with self._locked():
                if not self.root_path.is_file():
                    self._make_root()
        return x509.load_pem_x509_certificate(self.root_path.read_bytes())

    def agency_p12(self, agency_code: str, agency_name: str | None) -> Path:
        """The agency's PKCS#12 file (key, certificate, root), made on first use."""
        path = self.directory / f"{agency_code}.p12"
        if not path.is_file():
            root = self.root()
            with self._locked():
                if not path.is_file():
                    self._make_agency(path, root, agency_code, agency_name or agency_code)
        return path

    # -- making the files -------------------------------------------------------------

    def _make_root(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(ROOT_NAME)
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign_certificates=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(self.directory / "root.key.pem", key_pem)
        _write(self.root_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)

    def _make_agency(
        self, path: Path, root: x509.Certificate, agency_code: str, agency_name: str
    ) -> None:
        root_key = serialization.load_pem_private_key(
            (self.directory / "root.key.pem").read_bytes(), password=None
        )
        assert isinstance(root_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(agency_name, agency_code))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * AGENCY_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign_certificates=False), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(root_key, hashes.SHA256())
        )
        data = pkcs12.serialize_key_and_certificates(
            agency_code.encode(), key, cert, [root], serialization.NoEncryption()
        )
        _write(path, data)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    # X.520 bounds a CN at 64 characters; the agency's full name may be longer.
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]))
    return x509.Name(attributes)


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    """A CA's (certificates and CRLs) or a signer's (signatures, non-repudiation: what a
    PAdES signature's certificate must allow)."""
    return x509.KeyUsage(
        digital_signature=not sign_certificates,
        content_commitment=not sign_certificates,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Whole or not at all: a reader never sees half a file. Keys for the owner only."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(data)
    os.chmod(partial, mode)
    os.replace(partial, path)
