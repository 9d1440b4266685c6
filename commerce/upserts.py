"""What an upsert of a versioned vendor document did, and the one rule for versions: an older
source version than the stored one is ignored (and logged), the same version changes nothing.
Shared by the document writes (commerce.services, commerce.bulk) and the inventory writes
(commerce.inventory)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from commerce.documents import CanonicalOrder, CanonicalPayout, CanonicalRefund

log = structlog.get_logger(__name__)

T = TypeVar("T")


class UpsertOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED_STALE = "ignored_stale"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class UpsertResult(Generic[T]):
    outcome: UpsertOutcome
    obj: T


def stale_result(existing: T | None, version: int, kind: str, external_id: str) -> UpsertResult[T] | None:
    """IGNORED_STALE or UNCHANGED (with `existing`) when `version` must not overwrite `existing`; None
    to write it."""
    if existing is None:
        return None
    if version < existing.source_version:
        log.info(
            "commerce.stale_version_ignored",
            kind=kind,
            external_id=external_id,
            stored=existing.source_version,
            received=version,
        )
        return UpsertResult(UpsertOutcome.IGNORED_STALE, existing)
    if version == existing.source_version:
        return UpsertResult(UpsertOutcome.UNCHANGED, existing)
    return None


def document_fields(document: CanonicalOrder | CanonicalRefund | CanonicalPayout) -> dict[str, Any]:
    """What every version of a stored order, refund or payout sets besides its own fields: its
    source version, raw event and currency."""
    return {
        "source_version": document.source_version,
        "raw_event_id": document.raw_event_id,
        "currency": document.currency,
    }
