"""What every contract event carries, and the value types several events share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Channel = Literal["online", "counter", "post"]
NoticeChannel = Literal["inbox", "email", "sms", "webhook"]
FormValue = str | int | float | bool | None


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Applicant(Contract):
    """Who applies and how to reach them (from the form and the account)."""

    account: str | None = Field(description="Portal account (token subject), if any")
    full_name: str
    id_number: str = Field(description="Citizen identity number (số định danh cá nhân)")
    phone: str | None = None
    email: str | None = None
    notify_by: tuple[NoticeChannel, ...] = ("inbox",)


class PostalAddress(Contract):
    """Where the postal operator takes a result (Circular 22/2019 art. 3)."""

    recipient: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=6, max_length=20)
    street: str = Field(min_length=1, max_length=300, description="House number and street")
    ward: str = Field(min_length=1, max_length=100, description="Phường / xã")
    district: str = Field(default="", max_length=100, description="Quận / huyện, if any")
    province: str = Field(min_length=1, max_length=100)


class Document(Contract):
    """A document of the dossier, stored once by the SHA-256 of its content."""

    document_id: str = Field(description="Id of the required document in the procedure")
    filename: str
    content_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Envelope(Contract):
    schema_version: int = 1
    event_id: UUID = Field(description="Unique and stable: a re-published event keeps its id")
    dossier_id: UUID = Field(description="Also the Kafka message key")
    occurred_at: AwareDatetime = Field(description="When it happened, UTC")
    producer: str = Field(description="Service that published the event")
    correlation_id: str = Field(description="Id of the request or event that caused this one")
    chain_seq: int = Field(
        default=0,
        ge=0,
        description=(
            "Number of this event among the dossier's events from the same producer, "
            "from 1 without gaps (0 only before publishing); see contracts/chain.py"
        ),
    )
    prev_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "SHA-256 of the canonical JSON of the previous event of this dossier from the "
            "same producer; null for its first"
        ),
    )


def one_of(kinds: Iterable[type[Envelope]]) -> Any:
    """The type of any one of the event classes ``kinds``, told apart by ``type``: what
    the decoders validate with, and the schema a topic's publisher declares."""
    members = tuple(kinds)
    if len(members) == 1:
        return members[0]  # a discriminator needs two members at least
    union: Any = Union[members]  # noqa: UP007 (a dynamic union)
    return Annotated[union, Field(discriminator="type")]
