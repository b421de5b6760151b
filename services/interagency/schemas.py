"""Response bodies of interagency's HTTP API (what /docs shows): the feeds."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeedView(BaseModel):
    topic: str
    producer: str = Field(description="The events' producer field and header on this topic")
    ministry: str | None = Field(description="Ministry code; null for the default feed")
    ministry_name: str | None
    procedures: list[str] = Field(description="Procedures it receives (besides agencies)")
    agencies: list[str] = Field(description="Dossiers passing through these agencies too")
    fields: list[str] = Field(description="Personal fields it receives; none on the default")
    published_position: int = Field(description="Last store position published to it")
    lag: int = Field(description="Store positions recorded but not yet published to it")
