"""The demo's applicants and its HTTP client: citizens and officers calling intake and
workflow. The load driver (``devtools/load.py``) borrows the applicant and the form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from motcua.web.auth import issue_token
from services.catalogue.procedures import STEP_ROLES

PDF = b"%PDF-1.4\n% scanned original\n"


@dataclass
class Applicant:
    sub: str
    name: str
    id_number: str
    phone: str


APPLICANTS = [
    Applicant("citizen-001", "NGUYỄN THỊ LAN", "001190000001", "0912000001"),
    Applicant("citizen-002", "TRẦN VĂN HÙNG", "001085000002", "0912000002"),
    Applicant("citizen-003", "LÊ MINH CHÂU", "079200000003", "0912000003"),
]


class DemoClient:
    """Calls intake and workflow as citizens and officers would."""

    def __init__(self, intake_url: str, workflow_url: str, secret: str) -> None:
        self.http = httpx.Client(base_url=intake_url, timeout=30)
        self.flow = httpx.Client(base_url=workflow_url, timeout=30)
        self.secret = secret

    def citizen(self, a: Applicant) -> dict[str, str]:
        token = issue_token(
            self.secret,
            sub=a.sub,
            role="citizen",
            name=a.name,
            id_number=a.id_number,
            phone=a.phone,
        )
        return {"Authorization": f"Bearer {token}"}

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.secret, sub='admin', role='admin')}"}

    def officer(
        self, agency: str, step_roles: tuple[str, ...] = STEP_ROLES, sub: str | None = None
    ) -> dict[str, str]:
        """An officer of ``agency``; by default one who holds every step role (the demo's
        one officer per agency does each step), else only ``step_roles``."""
        token = issue_token(
            self.secret,
            sub=sub or f"officer@{agency}",
            role="officer",
            agency=agency,
            step_roles=list(step_roles),
        )
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        """Call intake; raise with the server's error body on any 4xx/5xx."""
        return _checked(self.http.request(method, path, headers=headers, **kw))

    def act(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        """Call workflow; raise with the server's error body on any 4xx/5xx."""
        return _checked(self.flow.request(method, path, headers=headers, **kw))

    def submit(
        self, a: Applicant, procedure_id: str, channel: str = "online", **extra: Any
    ) -> tuple[str, str]:
        """Fill the procedure's form for ``a`` and submit, with the ``extra`` fields of the
        submission (a delivery address, a postal tracking number); return (dossier id,
        agency)."""
        procedure = self.call("GET", f"/v1/procedures/{procedure_id}", {})
        headers = (
            self.citizen(a)
            if channel == "online"
            else self.officer(procedure["receiving_agency"]["code"])
        )
        upload = self.call(
            "POST",
            "/v1/attachments",
            headers,
            files={"file": ("scan.pdf", PDF + a.sub.encode(), "application/pdf")},
        )
        documents = [
            {"document_id": d["id"], "sha256": upload["sha256"], "filename": f"{d['id']}.pdf"}
            for d in procedure["documents"]
            if d["required"]
        ]
        body = {
            "procedure_id": procedure_id,
            "form_data": sample_form(procedure, a),
            "documents": documents,
            "channel": channel,
            "notify_by": ["email", "sms"],
            **extra,
        }
        created = self.call("POST", "/v1/dossiers", headers, json=body)
        return created["id"], procedure["receiving_agency"]["code"]


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def sample_form(procedure: dict[str, Any], a: Applicant) -> dict[str, Any]:
    """Plausible values for every field, from its type and limits."""
    known = {
        "ho_ten": a.name,
        "so_dinh_danh": a.id_number,
        "so_dien_thoai": a.phone,
        "email": f"{a.sub}@example.vn",
    }
    form: dict[str, Any] = {}
    for f in procedure["fields"]:
        if f["name"] in known:
            form[f["name"]] = known[f["name"]]
        elif f.get("example"):
            form[f["name"]] = f["example"]
        elif not f["required"]:
            continue  # optional: left empty, as most applicants do (e.g. no exemption)
        elif f["type"] == "select":
            form[f["name"]] = f["options"][0]
        elif f["type"] == "date":
            form[f["name"]] = "2026-11-01"
        elif f["type"] in ("integer", "decimal"):
            form[f["name"]] = int(float(f.get("min_value") or 1)) + 1
        elif f["type"] == "id_number":
            form[f["name"]] = "001099000099"
        elif f["type"] == "phone":
            form[f["name"]] = "0987654321"
        elif f["type"] == "email":
            form[f["name"]] = "lienhe@example.vn"
        elif f["required"]:
            form[f["name"]] = "Số 1, đường Lê Lợi"[: f.get("max_length") or 100]
    return form
