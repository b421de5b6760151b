"""Development stand-ins for the outside world: an SMTP sink and an SMS gateway.

``motcua up`` starts them when no real SMTP server or SMS provider is configured, so
that every notice has somewhere to go and can be looked at:
``GET http://127.0.0.1:8006/mail`` and ``GET http://127.0.0.1:8006/sms``. The SMS
gateway honours ``Idempotency-Key`` as real providers' client message ids do; the
mailbox shows a message once per Message-ID, as mailbox providers do, and counts the
copies that arrived.
Run: ``python -m devtools.sinks``.
"""

from __future__ import annotations

import json
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Header
from pydantic import BaseModel

from devtools.stand_ins import serve
from motcua.runtime.settings import Settings
from services.notify.settings import NotifySettings


class Mailbox:
    """Messages kept in memory and appended to a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path, self.items, self.lock = path, list[dict[str, Any]](), threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self.items = [json.loads(line) for line in path.read_text().splitlines() if line]

    def add(self, item: dict[str, Any]) -> None:
        with self.lock, self.path.open("a") as out:
            self.items.append(item)
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


class SmtpHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        self.mailbox.add(
            {
                "to": envelope.rcpt_tos,
                "subject": str(message["Subject"]),
                "message_id": str(message["Message-ID"]),
                "body": body.get_content() if body is not None else "",
            }
        )
        return "250 OK"


class Sms(BaseModel):
    to: str
    text: str
    subject: str = ""
    idempotency_key: str | None = None


def by_message_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first copy of each message, in order of arrival, with how many arrived."""
    first: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item.get("message_id") or f"no-id-{len(first)}"
        if key in first:
            first[key]["copies"] += 1
        else:
            first[key] = {**item, "copies": 1}
    return list(first.values())


def create_app(mail: Mailbox, sms: Mailbox) -> FastAPI:
    app = FastAPI(title="motcua dev sinks: SMTP and SMS")

    @app.post("/sms", status_code=202)
    def send_sms(body: Sms, idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        key = idempotency_key or body.idempotency_key
        if key and any(m["key"] == key for m in sms.items):
            return {"status": "duplicate ignored", "key": key}
        sms.add({"to": body.to, "text": body.text, "key": key})
        return {"status": "accepted", "key": key}

    @app.get("/sms")
    def list_sms() -> list[dict[str, Any]]:
        return sms.items

    @app.get("/mail")
    def list_mail() -> list[dict[str, Any]]:
        """One message per Message-ID, as mailbox providers show them, with the number of
        ``copies`` that arrived. E-mail has no idempotency key but the Message-ID: notify
        killed between the server's acceptance and its own record of it sends again."""
        return by_message_id(mail.items)

    return app


def main() -> None:
    settings, notify = Settings(), NotifySettings()
    folder = settings.var_dir / "sinks"
    mail, sms = Mailbox(folder / "mail.jsonl"), Mailbox(folder / "sms.jsonl")
    controller = Controller(SmtpHandler(mail), hostname="127.0.0.1", port=notify.smtp_port)
    controller.start()
    try:
        serve(create_app(mail, sms), notify.sinks_port)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
