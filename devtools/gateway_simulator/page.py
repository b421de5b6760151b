"""The gateway's hosted page, where the applicant approves or declines the order, and
the merchant's return URL the browser goes back to."""

from __future__ import annotations

from functools import cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from devtools.gateway_simulator.simulator import Simulator
from motcua.core.calendar import VIETNAM_TZ
from motcua.core.money import money_vnd
from services.payment.gateway import Order


def return_to(order: Order, status: str) -> str:
    """The merchant's return URL with ``order_id`` and ``status`` added to its query."""
    parts = urlsplit(order.return_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True)]
    query += [("order_id", order.order_id), ("status", status)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("devtools", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )


def render_page(sim: Simulator, order_id: str) -> HTMLResponse:
    """The hosted page: the order with its buttons, or its outcome, or not found."""
    template = _templates().get_template("gateway_page.html")
    state = sim.order_state(order_id)
    if state is None:
        return HTMLResponse(template.render(order=None, order_id=order_id), status_code=404)
    order, outcome = state
    html = template.render(
        order=order,
        order_id=order_id,
        amount=money_vnd(order.amount_vnd, "đồng"),
        expires=order.expires_at.astimezone(VIETNAM_TZ).strftime("%H:%M ngày %d/%m/%Y"),
        outcome=outcome,
        action=quote(order_id, safe=""),  # relative to /pay/: works behind any host name
        return_url=return_to(order, outcome.status) if outcome else None,
    )
    return HTMLResponse(html)
