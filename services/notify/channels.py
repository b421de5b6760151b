"""Delivery channels: e-mail over SMTP, SMS through an HTTP gateway, a generic webhook.

Each send carries the notice id as its idempotency key: the SMS gateway and webhooks
receive it in the ``Idempotency-Key`` header, e-mail as its ``Message-ID``. A channel
raises ``ChannelError`` for a failure worth retrying; the delivery loop decides when.
(The portal inbox is not here: it is a table in notify's own store.)
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

import httpx

from services.notify.settings import NotifySettings


class ChannelError(Exception):
    """The channel did not take the message; try again later."""


class Channel(Protocol):
    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None: ...


class EmailChannel:
    """SMTP with optional STARTTLS / implicit TLS and login (settings ``MOTCUA_SMTP_*``)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.s = settings

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.s.mail_from
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = f"<{key}@motcua>"
        message.set_content(body)
        try:
            smtp_class = smtplib.SMTP_SSL if self.s.smtp_tls == "implicit" else smtplib.SMTP
            with smtp_class(self.s.smtp_host, self.s.smtp_port, timeout=15) as smtp:
                if self.s.smtp_tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.s.smtp_user:
                    smtp.login(self.s.smtp_user, self.s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelError(f"SMTP {self.s.smtp_host}:{self.s.smtp_port}: {error}") from error


class HttpChannel:
    """POST the message as JSON; 2xx means taken. Used for the SMS gateway and webhooks."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url, self.token = url, token
        # One client for every send: kept-alive connections, and the TLS context is built
        # once (building it per message was a fifth of notify's CPU under load).
        self.http = httpx.Client(timeout=10)

    def send(self, *, key: str, recipient: str, subject: str, body: str) -> None:
        headers = {"Idempotency-Key": key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = {"to": recipient, "subject": subject, "text": body, "idempotency_key": key}
        try:
            response = self.http.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as error:
            raise ChannelError(f"{self.url}: {error!r}") from error
        if response.status_code >= 300:
            raise ChannelError(f"{self.url}: HTTP {response.status_code} {response.text[:200]}")
