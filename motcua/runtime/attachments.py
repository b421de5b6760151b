"""Files kept once by the SHA-256 of their content, in the service's own database.

Intake keeps the applicant's scans (I-5); workflow keeps supplements and electronic
results. Keeping them in the database, not on a local disk, lets several instances of
a service share them and keeps backups in one place.

This module owns the ``attachments`` table; its shape is a step of ``migrations.py``,
created when the store is opened.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import File, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from motcua.core.errors import Invalid, NotFound
from motcua.runtime.store import Store, Tx


class Attachment(BaseModel):
    """What an upload answers: the name to reference the file by, its size and type."""

    sha256: str
    size: int
    content_type: str


# The upload's file part, as the OpenAPI document states it: at least one byte (what
# ``read_upload`` enforces). The largest size is a setting, not in the document.
UploadedFile = Annotated[
    UploadFile, File(description="The file, at least one byte", json_schema_extra={"minLength": 1})
]


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """The uploaded file's content. An empty one is refused as a request not as its
    document says (422, ``invalid_request``, field ``body.file``); one larger than
    ``limit`` bytes as an invalid file (422, ``invalid``)."""
    data = await file.read(limit + 1)
    if not data:
        problem = {"type": "too_short", "loc": ("body", "file"), "msg": "the file is empty"}
        raise RequestValidationError([{**problem, "input": None}])
    if len(data) > limit:
        raise Invalid(f"the file is larger than {limit} bytes")
    return data


class Attachments:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, data: bytes, content_type: str, uploaded_by: str, at: datetime) -> dict[str, Any]:
        """Keep ``data`` (a second upload of the same content is a no-op)."""
        digest = hashlib.sha256(data).hexdigest()

        def insert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO {attachments} (sha256, content_type, size, data, uploaded_by, "
                "uploaded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                (digest, content_type, len(data), data, uploaded_by, at.isoformat()),
            )

        self.store.write(insert)
        return {"sha256": digest, "size": len(data), "content_type": content_type}

    def get(self, sha256: str) -> dict[str, Any]:
        row = self.store.read_one(
            "SELECT sha256, content_type, size, data FROM {attachments} WHERE sha256 = ?",
            (sha256,),
        )
        if row is None:
            raise NotFound(f"no attachment with SHA-256 {sha256}")
        row["data"] = bytes(row["data"])
        return row

    def describe(self, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Document references completed with type and size; every file must exist."""
        documents = []
        for ref in refs:
            row = self.store.read_one(
                "SELECT content_type, size FROM {attachments} WHERE sha256 = ?", (ref["sha256"],)
            )
            if row is None:
                raise Invalid(
                    f"document {ref['document_id']}: no uploaded file has SHA-256 "
                    f"{ref['sha256']}; upload it first with POST /v1/attachments"
                )
            documents.append({**ref, "content_type": row["content_type"], "size": row["size"]})
        return documents
