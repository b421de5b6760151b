"""Results and their documents (W-5): issuing, handing over, downloading, verifying.

The last step's officer issues the result (an electronic document, or ready for pickup
or post) and records when it reached the applicant. The electronic result is a PDF
signed with the issuing agency's digital signature (O-5, ``signing.py``): workflow signs
an unsigned one, and checks the signatures of one signed elsewhere before issuing it.
The file is served to those who may take it, and anyone holding a copy may check it
against the dossier's code and have its signature checked; neither answer tells a
stranger that a code exists.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import UUID

from motcua.core.calendar import local_date
from motcua.core.errors import NotFound
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.workflow.base import WorkflowBase
from services.workflow.domain import Process, check_result_kind
from services.workflow.signing import ResultSigning

# The one answer to an unknown code and to a caller who may not have the dossier.
NO_SUCH_DOSSIER = "no dossier matches that code and ID number"


class ResultsMixin(WorkflowBase):
    """The result's commands, its electronic document and the public check of a copy."""

    signing: ResultSigning

    @retry_on_conflict
    def issue_result(
        self, caller: Caller, dossier_id: UUID, kind: str, ref: dict[str, str] | None, cid: str
    ) -> None:
        """Issue the result: an electronic document, or ready for pickup or post (W-5).

        The electronic result's document is the signed PDF (O-5): its SHA-256 and size
        are the signed file's, stored once the process has taken the result."""
        process = self._at_agency(caller, dossier_id)
        self._check_kind_of_legacy(process, kind)
        document = self.attachments.describe([ref])[0] if ref else None
        signed: bytes | None = None
        if document is not None and kind == "electronic":
            if process.level is not None:
                check_result_kind(process.level, kind)  # before anything is signed
            signed, document = self._as_issued(process, document)
        now = self.clock()
        process.issue_result(
            officer=caller.sub,
            kind=kind,
            document=document,
            issued_at=now,
            issued_on=local_date(now),
            timeliness=process.timeliness_of(now),
            correlation_id=cid,
        )
        if signed is not None:
            self.attachments.put(signed, "application/pdf", caller.sub, now)
        self._save(process)

    def _as_issued(
        self, process: Process, document: dict[str, Any]
    ) -> tuple[bytes, dict[str, Any]]:
        """The uploaded document as it is issued: signed by the agency holding the
        dossier (or, signed by it already, as it is), and its description."""
        uploaded = self.attachments.get(document["sha256"])["data"]
        issued = self.signing.prepare(
            uploaded, process.agency, process.step.get("agency_name"), process.code
        )
        described = {
            **document,
            "sha256": hashlib.sha256(issued).hexdigest(),
            "size": len(issued),
            "content_type": "application/pdf",
        }
        return issued, described

    @retry_on_conflict
    def record_returned(self, caller: Caller, dossier_id: UUID, method: str, cid: str) -> None:
        process = self._at_agency(caller, dossier_id)
        self._check_kind_of_legacy(process, method)
        process.record_returned(
            officer=caller.sub, method=method, returned_on=self.today(), correlation_id=cid
        )
        self._save(process)

    def result_document(
        self, caller: Caller | None, ref: str, id_number: str | None
    ) -> dict[str, Any]:
        """The electronic result's file (``data``) and its description (W-5).

        For the applicant (their token, or the dossier's code with their ID number, as
        for intake's lookup), the officers of the agency holding the dossier, an admin.
        Anyone else gets the 404 of an unknown code: the answer never tells that a code
        exists. Those who may see it learn whether there is a file yet.
        """
        process = self._by_ref(ref)
        if process is None or not self._may_take_result(caller, process, ref, id_number):
            raise NotFound(NO_SUCH_DOSSIER)
        document = process.electronic_result
        if document is None:
            raise NotFound(
                f"no electronic result has been issued for this dossier (it is {process.status})"
            )
        stored = self.attachments.get(document["sha256"])
        content_type = document.get("content_type") or stored["content_type"]
        return {**document, "content_type": content_type, "data": stored["data"]}

    def check_result(self, code: str, sha256: str, data: bytes | None = None) -> dict[str, Any]:
        """Whether ``sha256`` is that of the electronic result issued under ``code``, and
        what the document's signature says (O-5).

        Anyone may ask; the answer names the procedure, the issuing agency and the day
        when the document matches, and nothing at all otherwise (an unknown code, no
        electronic result, another document: all the same ``matches: false``). The
        signature checked is that of ``data`` (an uploaded copy: what it says depends on
        the file alone, never on the code) or, given only a hash, that of the issued
        document when the hash is its own. ``valid``: the document is the one issued and
        its signature holds.
        """
        sha256 = sha256.lower()
        row = self.store.read_one(
            "SELECT dossier_id FROM {workflow_processes} WHERE code = ?", (code,)
        )
        process = self._process(UUID(row["dossier_id"])) if row else None
        document = process.electronic_result if process else None
        matches = document is not None and hmac.compare_digest(
            str(document["sha256"]).encode(), sha256.encode()
        )
        issued = process if matches and process and process.result else None
        if data is None and issued is not None and document is not None:
            data = self.attachments.get(document["sha256"])["data"]
        signature = self.signing.check(data) if data is not None else None
        return {
            "code": code,
            "sha256": sha256,
            "matches": issued is not None,
            "valid": issued is not None and signature is not None and signature.valid,
            "procedure_name": issued.procedure_name if issued else None,
            "agency_code": issued.agency if issued else None,
            "issued_on": issued.result["issued_on"] if issued and issued.result else None,
            "signature": signature.as_dict() if signature else None,
        }

    def _check_kind_of_legacy(self, process: Process, kind: str) -> None:
        """A process started before its level was recorded: the catalogue's level."""
        if process.level is None:
            check_result_kind(self.catalogue.require(process.procedure_id).level, kind)

    @staticmethod
    def _may_take_result(
        caller: Caller | None, process: Process, ref: str, id_number: str | None
    ) -> bool:
        """The applicant (by token, or by code and ID number), the officers of the agency
        holding the dossier, an admin."""
        if caller is not None and (
            caller.role == "admin"
            or (caller.role == "citizen" and process.applicant_account == caller.sub)
            or (caller.role == "officer" and caller.agency == process.agency)
        ):
            return True
        return (
            id_number is not None
            and process.applicant_id_number is not None
            and ref == process.code
            and hmac.compare_digest(
                id_number.strip().encode(), process.applicant_id_number.encode()
            )
        )
