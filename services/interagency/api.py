"""Interagency's HTTP API: what each feed carries and how far it has published.

Public and read-only: it shows configuration (which ministry receives which procedures
and which personal fields, which is a matter of law, not a secret) and positions, never
an event's content.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from motcua.runtime.relay import relay_progress
from motcua.web.http import ERROR_RESPONSES
from services.interagency.application import InteragencyApplication
from services.interagency.feeds import Feed
from services.interagency.schemas import FeedView

router = APIRouter(responses=ERROR_RESPONSES)


def get_application(request: Request) -> InteragencyApplication:
    app: InteragencyApplication = request.app.state.interagency
    return app


def get_feeds(request: Request) -> list[Feed]:
    feeds: list[Feed] = request.app.state.feeds
    return feeds


@router.get("/v1/feeds", tags=["feeds"])
def list_feeds(
    app: Annotated[InteragencyApplication, Depends(get_application)],
    feeds: Annotated[list[Feed], Depends(get_feeds)],
) -> list[FeedView]:
    """The default feed and one per configured ministry."""
    progress = relay_progress(app.store, [feed.name for feed in feeds])
    views = []
    for feed in feeds:
        m = app.ministries.get(feed.ministry) if feed.ministry else None
        views.append(
            FeedView(
                topic=feed.topic,
                producer=feed.name,
                ministry=feed.ministry,
                ministry_name=m.name if m else None,
                procedures=list(m.procedures) if m else [],
                agencies=list(m.agencies) if m else [],
                fields=list(m.fields) if m else [],
                published_position=progress[feed.name].position,
                lag=progress[feed.name].lag,
            )
        )
    return views
