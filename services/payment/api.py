"""Payment's HTTP API: bills, online checkout, the gateway's callbacks, offline payments,
refunds paid at the counter, receipts, reconciliation, and the public pay page."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from motcua.core.errors import DomainError
from motcua.web.auth import CallerDep
from motcua.web.http import ERROR_RESPONSES, CorrelationIdDep, Day, ErrorBody, file_responses
from services.payment import pages
from services.payment.application import PaymentApplication
from services.payment.schemas import (
    Attempt,
    BillView,
    CallbackAnswer,
    OfflinePayment,
    Receipt,
    Reconciliation,
    RefundPaid,
)


def get_application(request: Request) -> PaymentApplication:
    app: PaymentApplication = request.app.state.payment
    return app


PaymentDep = Annotated[PaymentApplication, Depends(get_application)]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
pages_router = APIRouter()


@router.get("/payments/{ref}", response_model=BillView, summary="A bill with its history")
def get_bill(ref: str, caller: CallerDep, payments: PaymentDep) -> dict[str, Any]:
    """By payment code, dossier code or dossier id; for the applicant, the dossier's
    agencies and admins."""
    return payments.bill_for(caller, ref)


@router.post("/payments/{ref}/checkout", response_model=Attempt, summary="Pay online")
def checkout(ref: str, payments: PaymentDep, cid: CorrelationIdDep) -> dict[str, Any]:
    """The attempt to pay online and the gateway's page to send the browser to.

    Anyone holding the payment code may pay (a relative often does). While an attempt
    is live the same attempt is returned, so a double click never opens two."""
    return payments.checkout(ref, cid)


@router.get("/attempts/{attempt_id}", response_model=Attempt, summary="An attempt's status")
def get_attempt(attempt_id: str, payments: PaymentDep) -> dict[str, Any]:
    return payments.attempt_status(attempt_id)


@router.post(
    "/gateway/callback",
    response_model=CallbackAnswer,
    summary="The gateway's signed callback",
    responses={401: {"model": ErrorBody, "description": "Forged or stale signature"}},
)
async def gateway_callback(request: Request, payments: PaymentDep) -> dict[str, Any]:
    """Signed with HMAC-SHA256 (see ``services/payment/gateway.py``); repeats are safe."""
    body = await request.body()
    remote = request.client.host if request.client else "?"
    outcome = await to_thread.run_sync(payments.callback, request.headers, body, remote)
    return {"outcome": outcome}


@router.post(
    "/payments/{ref}/offline", response_model=BillView, summary="Record an offline payment"
)
def record_offline(
    ref: str, body: OfflinePayment, caller: CallerDep, payments: PaymentDep, cid: CorrelationIdDep
) -> dict[str, Any]:
    """Cash at the counter, a bank transfer or a postal order, by an officer of one of the
    dossier's agencies; the same reference is never recorded twice."""
    return payments.record_offline(
        caller,
        ref,
        method=body.method,
        reference=body.reference,
        amount_vnd=body.amount_vnd,
        paid_at=body.paid_at,
        cid=cid,
    )


@router.post(
    "/payments/{ref}/refunds/{refund_id}/paid",
    response_model=BillView,
    summary="Record an offline refund paid out",
)
def refund_paid(
    ref: str,
    refund_id: str,
    body: RefundPaid,
    caller: CallerDep,
    payments: PaymentDep,
    cid: CorrelationIdDep,
) -> dict[str, Any]:
    return payments.record_refund_paid(caller, ref, refund_id, body.reference, cid)


@router.get("/receipts/{number}", response_model=Receipt, summary="Electronic receipt (biên lai)")
def get_receipt(number: str, caller: CallerDep, payments: PaymentDep) -> dict[str, Any]:
    return payments.receipt(caller, number)


@router.get(
    "/receipts/{number}/print",
    response_class=Response,
    responses=file_responses("text/html", "The receipt, to print"),
    summary="Printable receipt",
)
def print_receipt(number: str, caller: CallerDep, payments: PaymentDep) -> HTMLResponse:
    return HTMLResponse(pages.receipt_page(payments.receipt(caller, number)))


@router.post("/reconciliations/{day}", response_model=Reconciliation, summary="Reconcile one day")
def reconcile(day: Day, caller: CallerDep, payments: PaymentDep) -> dict[str, Any]:
    """Match the gateway's settlement file of the day against recorded payments."""
    caller.require("admin")
    return payments.reconcile(day)


@router.get(
    "/reconciliations/{day}", response_model=list[Reconciliation], summary="Past runs of a day"
)
def reconciliations(day: Day, caller: CallerDep, payments: PaymentDep) -> list[dict[str, Any]]:
    caller.require("admin")
    return payments.reports(day)


@router.get("/payments-returned", response_class=HTMLResponse, include_in_schema=False)
def returned(
    payments: PaymentDep,
    order_id: Annotated[str, Query(max_length=64)],
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> str:
    """Where the gateway sends the browser back; the callback, not this, is the truth."""
    attempt = payments.attempt_status(order_id)
    return pages.returned_page(
        attempt, status, f"{payments.public_url}/pay/{attempt['payment_code']}"
    )


@pages_router.get("/pay/{ref}", response_class=HTMLResponse, include_in_schema=False)
def pay_page(ref: str, payments: PaymentDep) -> str:
    return pages.pay_page(payments.public_bill(ref), action=f"/pay/{ref}")


@pages_router.post("/pay/{ref}", include_in_schema=False, response_model=None)
def pay(ref: str, payments: PaymentDep, cid: CorrelationIdDep) -> RedirectResponse | HTMLResponse:
    try:
        attempt = payments.checkout(ref, cid)
    except DomainError as error:
        html = pages.pay_page(payments.public_bill(ref), action=f"/pay/{ref}", error=error.message)
        return HTMLResponse(html, status_code=409)
    return RedirectResponse(attempt["pay_url"], status_code=303)
