"""ORD publication outbox (contract §8): one row per product revision to deliver to the registry.

A row is ``pending`` until the registry acknowledged it (``delivered``) or refused it for good
(``rejected``, a 4xx other than 408/429, or a product ORD cannot express). Its idempotency key is
``{product_id}:{revision}``: a restart re-sends a pending row with the same key, and a delivered
row is never sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataproduct_mcp.domain.ord import LIST_CAP
from dataproduct_mcp.domain.tasks import Task

__all__ = ["EnqueueResult", "OutboxRow", "OutboxStatus", "PublicationRecord", "PublishResult", "idempotency_key"]


class OutboxStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    rejected = "rejected"


def idempotency_key(product_id: str, revision: int) -> str:
    """The ``Idempotency-Key`` of one product revision."""
    return f"{product_id}:{revision}"


@dataclass(frozen=True)
class OutboxRow:
    tenant: str
    product_id: str
    revision: int
    idempotency_key: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    task_id: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "product_id": self.product_id,
            "revision": self.revision,
            "idempotency_key": self.idempotency_key,
            "status": self.status.value,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "task_id": self.task_id,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


@dataclass
class EnqueueResult:
    """What one ``publish_to_ord`` call put in the outbox (in one transaction with its task)."""

    task_created: bool
    task_id: str | None  # the new task, or the active task already carrying the rows
    queued: list[OutboxRow] = field(default_factory=list)  # rows the task (new or existing) delivers
    delivered: list[OutboxRow] = field(default_factory=list)  # already acknowledged: not sent again
    rejected: list[OutboxRow] = field(default_factory=list)  # refused before and not retried


class PublicationRecord(BaseModel):
    """A product's ``last_publication``: the revision the registry last acknowledged."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(description="'{product_id}:{revision}' of the delivered revision.")
    revision: int = Field(description="The product revision that was delivered.")
    recorded_revision: int = Field(
        description="The product revision written when this was recorded; a later revision means the product "
        "changed since and needs publishing again."
    )
    published_at: datetime = Field(description="When the registry acknowledged it (UTC).")
    task_id: str | None = Field(None, description="The publish-ord task that delivered it.")
    registry: str | None = Field(None, description="The registry URL it was delivered to.")


class PublishResult(BaseModel):
    """What ``publish_to_ord`` answers."""

    task: Task | None = Field(description="The publish-ord task delivering the queued rows; null when nothing to do.")
    queued_total: int = Field(description="Product revisions this task delivers.")
    queued: list[dict[str, Any]] = Field(description=f"The first {LIST_CAP} of them: key, revision, attempts.")
    already_delivered: list[str] = Field(description="Idempotency keys the registry already acknowledged (not resent).")
    rejected: list[dict[str, Any]] = Field(description="Revisions the registry refused before (not resent).")
    up_to_date: list[str] = Field(description="Asked products with no change since their last publication.")
    skipped: list[dict[str, Any]] = Field(description="Products ORD cannot express, with the field at fault.")
    skipped_total: int = 0
    breaker: str = Field(description="Registry circuit breaker: closed, open or half-open.")
    message: str
