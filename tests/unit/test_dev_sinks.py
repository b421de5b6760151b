"""The dev mailbox shows a message once per Message-ID, as mailbox providers do, and
counts the copies that arrived (notify re-sends after a crash mid-send)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from devtools.sinks import Mailbox, create_app


def test_a_message_sent_again_is_shown_once_with_its_copies(tmp_path: Path) -> None:
    mail, sms = Mailbox(tmp_path / "mail.jsonl"), Mailbox(tmp_path / "sms.jsonl")
    for message_id in ("<a@motcua>", "<b@motcua>", "<a@motcua>"):
        mail.add({"to": ["lan@example.vn"], "subject": "s", "message_id": message_id, "body": ""})

    shown = TestClient(create_app(mail, sms)).get("/mail").json()

    assert [(m["message_id"], m["copies"]) for m in shown] == [("<a@motcua>", 2), ("<b@motcua>", 1)]
    assert len(Mailbox(tmp_path / "mail.jsonl").items) == 3  # every arrival stays in the file
