"""The load driver of the chaos suite and the pipeline benchmark.

It plays every outside party over the public HTTP APIs only: applicants who upload,
submit and pay online, one-stop and specialist officers of each agency, and the
applicant's browser at the payment gateway. Each dossier runs its procedure's full
lifecycle, chosen in turn:

- birth registration (1.001193): one agency, no fee, an electronic result;
- land transfer (1.004227): three agencies, a fee paid online, a result picked up.

Officers act as a person at a screen does: read the timeline, do what the state calls
for. A request that fails (the service was killed mid-request, a 5xx, a timeout) is
retried, and a refused action (409) sends the officer back to read the state, so an
action that did take effect the first time is never done twice. Submissions carry an
``Idempotency-Key`` for the same reason. The driver keeps the ground truth that
``devtools.load_checks`` compares the services' outcomes with.

Its HTTP client is aiohttp's: the driver stands in for thousands of users, and on a
2-core machine its own CPU counts against the services'. Measured on one request with a
JSON answer, httpx's async client costs about 2.2 ms of CPU and aiohttp's 0.22 ms; with
httpx the driver was the busiest process of the pipeline benchmark.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from devtools.demo.client import Applicant, sample_form
from devtools.pdf import one_page_pdf
from motcua.web.auth import Role, issue_token
from services.catalogue.procedures import STEP_ROLES

BIRTH, LAND = "1.001193", "1.004227"
PROCEDURES = (BIRTH, LAND)
PDF = b"%PDF-1.4\n% load driver scan\n"
RETRYABLE = (aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class Answer:
    """A response read in full (the connection is back in the pool at once)."""

    method: str
    path: str
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _form(files: dict[str, tuple[str, bytes, str]]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, (filename, data, content_type) in files.items():
        form.add_field(name, data, filename=filename, content_type=content_type)
    return form


class Stuck(Exception):
    """A dossier made no progress within the driver's patience."""


@dataclass
class Trace:
    """What happened to one dossier, as the driver saw it (wall-clock times)."""

    index: int
    procedure_id: str
    applicant: Applicant
    dossier_id: str = ""
    code: str = ""
    submit_seconds: float = 0.0  # POST /v1/dossiers until the 201 of the attempt that got it
    received_at: float = 0.0  # the one-stop's accept answered (DossierReceived recorded)
    finished_at: float = 0.0
    paid_vnd: int = 0
    retries: int = 0
    actions: int = 0
    # HTTP requests sent for the dossier, tries included, by "host:port" of the service.
    requests: Counter[str] = field(default_factory=Counter)


@dataclass
class Urls:
    intake: str
    workflow: str
    payment: str

    @classmethod
    def local(cls, host: str, ports: Callable[[str], int]) -> Urls:
        return cls(*(f"http://{host}:{ports(name)}" for name in ("intake", "workflow", "payment")))


@dataclass
class Driver:
    """Drives dossiers concurrently; ``traces`` is the ground truth afterwards."""

    urls: Urls
    secret: str
    patience: float = 180.0  # seconds one dossier may make no progress before Stuck
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    traces: list[Trace] = field(default_factory=list)
    http: aiohttp.ClientSession = field(init=False)
    procedures: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    async def __aenter__(self) -> Driver:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=30.0, connect=5.0),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.close()

    # -- running many -----------------------------------------------------------------

    async def run(
        self,
        count: int,
        *,
        concurrency: int = 64,
        rate: float | None = None,
        progress: Callable[[Trace], None] | None = None,
    ) -> list[Trace]:
        """Start ``count`` dossiers (at ``rate`` per second if given), at most
        ``concurrency`` in flight; return when every one has finished its lifecycle."""
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()

        async def one(index: int) -> None:
            async with gate:
                trace = self.new_trace(index)
                await self.lifecycle(trace)
                if progress:
                    progress(trace)

        async with asyncio.TaskGroup() as group:
            for index in range(count):
                if rate:
                    await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
                group.create_task(one(index))
        return self.traces

    def new_trace(self, index: int) -> Trace:
        applicant = Applicant(
            sub=f"load-{self.run_id}-{index}",
            name="NGUYỄN VĂN THỬ",
            id_number=f"0011{index:08d}",
            phone=f"09{index % 100_000_000:08d}",
        )
        trace = Trace(index, PROCEDURES[index % len(PROCEDURES)], applicant)
        self.traces.append(trace)
        return trace

    # -- one dossier ------------------------------------------------------------------

    async def lifecycle(self, t: Trace) -> None:
        procedure = await self.procedure(t.procedure_id)
        agency = procedure["receiving_agency"]["code"]
        await self.submit(t, procedure)
        await self.accept(t, agency)
        await self.until(lambda: self.has_process(t), t, "workflow to start the process")
        while (timeline := await self.timeline(t))["status"] != "returned":
            await self.next_move(t, timeline)
        t.finished_at = time.time()

    async def submit(self, t: Trace, procedure: dict[str, Any]) -> None:
        citizen = self.citizen(t.applicant)
        upload = await self.ok(
            t,
            "POST",
            f"{self.urls.intake}/v1/attachments",
            citizen,
            files={"file": ("scan.pdf", PDF + t.applicant.sub.encode(), "application/pdf")},
        )
        documents = [
            {"document_id": d["id"], "sha256": upload["sha256"], "filename": f"{d['id']}.pdf"}
            for d in procedure["documents"]
            if d["required"]
        ]
        body = {
            "procedure_id": t.procedure_id,
            "form_data": sample_form(procedure, t.applicant),
            "documents": documents,
            "channel": "online",
            "notify_by": ["email", "sms"],
        }
        headers = {**citizen, "Idempotency-Key": f"{self.run_id}-{t.index}"}
        began = time.perf_counter()
        created = await self.ok(t, "POST", f"{self.urls.intake}/v1/dossiers", headers, json=body)
        t.submit_seconds = time.perf_counter() - began
        t.dossier_id = created["id"]

    async def accept(self, t: Trace, agency: str) -> None:
        officer = self.officer(agency)
        url = f"{self.urls.intake}/v1/dossiers/{t.dossier_id}"
        while True:
            response = await self.send(t, "POST", f"{url}/accept", officer)
            if response.status_code == 200:
                t.code, t.received_at = response.json()["code"], time.time()
                return
            view = await self.ok(t, "GET", url, officer)
            if view["status"] != "submitted" and view.get("code"):  # the first try took effect
                t.code, t.received_at = view["code"], time.time()
                return
            self.refuse_unexpected(response)

    async def next_move(self, t: Trace, timeline: dict[str, Any]) -> None:
        """Do what the dossier's state calls for, as the officer of the agency holding it."""
        status, steps = timeline["status"], timeline["steps"]
        current = next((i for i, s in enumerate(steps) if s["status"] == "started"), None)
        officer = self.officer(timeline["agency_code"])
        if status == "result_issued":
            kind = "electronic" if t.procedure_id == BIRTH else "pickup"
            await self.act(t, "returned", officer, {"method": kind})
        elif status == "awaiting_handover":
            await self.act(t, "hand-over", officer, {})
        elif status == "in_progress" and current is not None and current < len(steps) - 1:
            await self.act(t, "complete-step", officer, {"notes": "Đã xử lý"})
        elif status == "in_progress" and timeline["approved"] is None:
            await self.act(t, "approve", officer, {"notes": "Đồng ý"})
        elif status == "in_progress" and not timeline["paid"]:
            await self.pay(t)
            await self.until(lambda: self.paid(t), t, "workflow to record the payment")
        elif status == "in_progress":
            await self.act(t, "result", officer, await self.result(t, officer))
        else:
            raise Stuck(f"dossier {t.code}: unexpected state {status} at step {current}")

    async def result(self, t: Trace, officer: dict[str, str]) -> dict[str, Any]:
        if t.procedure_id != BIRTH:
            return {"kind": "pickup"}
        upload = await self.ok(
            t,
            "POST",
            f"{self.urls.workflow}/v1/attachments",
            officer,
            files={"file": ("giay-khai-sinh.pdf", _result_pdf(t.code), "application/pdf")},
        )
        document = {"document_id": "giay_khai_sinh", "sha256": upload["sha256"]}
        return {"kind": "electronic", "document": {**document, "filename": "gks.pdf"}}

    async def act(
        self, t: Trace, action: str, officer: dict[str, str], body: dict[str, Any]
    ) -> None:
        """One officer action. 409 means the state moved (perhaps by the first try of
        this very action): the caller reads the timeline again and decides afresh. So
        does a 403 once the dossier is at another agency: a hand-over whose first try
        took effect before the service was killed leaves this officer nothing to do."""
        url = f"{self.urls.workflow}/v1/dossiers/{t.dossier_id}/{action}"
        response = await self.send(t, "POST", url, officer, json=body)
        t.actions += 1
        if response.status_code == 409 or (
            response.status_code == 403 and await self.moved_away(t, officer)
        ):
            t.retries += 1
            await asyncio.sleep(0.05)
        elif response.status_code != 204:
            self.refuse_unexpected(response)

    async def moved_away(self, t: Trace, officer: dict[str, str]) -> bool:
        """The dossier is now held by an agency other than this officer's."""
        agency = (await self.timeline(t))["agency_code"]
        return officer != self.officer(agency)

    async def pay(self, t: Trace) -> None:
        """The applicant pays the bill online, approving one order at the gateway."""
        citizen = self.citizen(t.applicant)
        bill_url = f"{self.urls.payment}/v1/payments/{t.dossier_id}"

        async def bill() -> dict[str, Any] | None:
            response = await self.send(t, "GET", bill_url, citizen)
            return response.json() if response.status_code == 200 else None

        found = await self.until(bill, t, "the payment service to open the bill")
        if found["status"] == "paid":
            return
        code = found["payment_code"]
        attempt = await self.ok(t, "POST", f"{self.urls.payment}/v1/payments/{code}/checkout", {})
        decided = await self.send(t, "POST", f"{attempt['pay_url']}/approve", {})
        if decided.status_code >= 400 and decided.status_code != 409:
            self.refuse_unexpected(decided)
        t.paid_vnd = found["amount_vnd"]

    # -- reading state ----------------------------------------------------------------

    async def procedure(self, procedure_id: str) -> dict[str, Any]:
        if procedure_id not in self.procedures:
            url = f"{self.urls.intake}/v1/procedures/{procedure_id}"
            self.procedures[procedure_id] = await self.ok(None, "GET", url, {})
        return self.procedures[procedure_id]

    async def timeline(self, t: Trace) -> dict[str, Any]:
        url = f"{self.urls.workflow}/v1/dossiers/{t.dossier_id}/timeline"
        result: dict[str, Any] = await self.ok(t, "GET", url, self.admin())
        return result

    async def has_process(self, t: Trace) -> bool:
        url = f"{self.urls.workflow}/v1/dossiers/{t.dossier_id}/timeline"
        return (await self.send(t, "GET", url, self.admin())).status_code == 200

    async def paid(self, t: Trace) -> bool:
        return bool((await self.timeline(t))["paid"])

    async def until(self, probe: Callable[[], Awaitable[Any]], t: Trace, what: str) -> Any:
        deadline = time.monotonic() + self.patience
        delay = 0.05
        while (found := await probe()) in (None, False):
            if time.monotonic() > deadline:
                raise Stuck(f"dossier {t.code or t.index}: waited {self.patience:.0f}s for {what}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        return found

    # -- HTTP with retries ------------------------------------------------------------

    async def send(
        self, t: Trace | None, method: str, url: str, headers: dict[str, str], **kw: Any
    ) -> Answer:
        """The answer to the request; unreachable services and 5xx are retried with a
        growing delay (a killed service is back within seconds) until the patience ends.
        ``files`` (name: (filename, bytes, content type)) is sent as a multipart form."""
        deadline = time.monotonic() + self.patience
        delay = 0.1
        files = kw.pop("files", None)
        while True:
            if t is not None:
                t.requests[url.split("/", 3)[2]] += 1
            try:
                data = _form(files) if files else None  # a form is read once: one per try
                async with self.http.request(
                    method, url, headers=headers, data=data, **kw
                ) as answer:
                    response = Answer(method, answer.url.path, answer.status, await answer.read())
                if response.status_code < 500:
                    return response
                problem = f"{response.status_code} {response.text[:200]}"
            except RETRYABLE as error:
                problem = f"{type(error).__name__}: {error}"
            if t is not None:
                t.retries += 1
            if time.monotonic() > deadline:
                raise Stuck(f"{method} {url}: still failing after {self.patience:.0f}s: {problem}")
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)

    async def ok(
        self, t: Trace | None, method: str, url: str, headers: dict[str, str], **kw: Any
    ) -> Any:
        response = await self.send(t, method, url, headers, **kw)
        if response.status_code >= 400:
            self.refuse_unexpected(response)
        return response.json()

    @staticmethod
    def refuse_unexpected(response: Answer) -> None:
        raise Stuck(
            f"{response.method} {response.path}: {response.status_code} {response.text[:300]}"
        )

    # -- who is calling ---------------------------------------------------------------

    def citizen(self, a: Applicant) -> dict[str, str]:
        return self._token(a.sub, "citizen", name=a.name, id_number=a.id_number, phone=a.phone)

    def officer(self, agency: str) -> dict[str, str]:
        """The agency's one officer, who does every step: all three step roles."""
        return self._token(
            f"officer@{agency}", "officer", agency=agency, step_roles=list(STEP_ROLES)
        )

    def admin(self) -> dict[str, str]:
        return self._token("load-admin", "admin")

    def _token(self, sub: str, role: Role, **claims: Any) -> dict[str, str]:
        if (sub, role) not in self.tokens:
            token = issue_token(self.secret, sub=sub, role=role, ttl_seconds=86_400, **claims)
            self.tokens[sub, role] = {"Authorization": f"Bearer {token}"}
        return self.tokens[sub, role]


def _result_pdf(code: str) -> bytes:
    """The dossier's electronic result: a real (unsigned) PDF, which workflow signs."""
    return one_page_pdf("Giấy khai sinh (bản điện tử)", f"Hồ sơ {code}")
