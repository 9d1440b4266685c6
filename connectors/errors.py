"""How a failed inbound event is described and classified: the message a person reads, the field
it names, and whether retrying could help (transient) or the payload itself is wrong (permanent)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import DatabaseError

from connectors.vendors.base import DependencyMissing, NormaliseError
from core.http.client import ConnectorError


def error_text(error: BaseException, *, stage: str = "") -> str:
    """The message an event's failure shows: a field's validation, the vendor's error, or the stage and type."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in getattr(error, "message_dict", {}).items()
        ) or "; ".join(error.messages)
    if isinstance(error, ConnectorError):
        return error.message
    if isinstance(error, NormaliseError | DependencyMissing):
        return str(error)
    prefix = f"{stage} failed: " if stage else ""
    return f"{prefix}{type(error).__name__}: {error}"[:2000]


_FIELD_PATH = re.compile(r"^([A-Za-z_][\w]*(?:\[[^\]]*\])*(?:\.[A-Za-z_][\w]*(?:\[[^\]]*\])*)*): ")


def error_field(message: str) -> str:
    """The field path an error message starts with (`line_items[0].subtotal: …`), or ""."""
    match = _FIELD_PATH.match(message)
    return match.group(1) if match else ""


# Deterministic data errors: the same payload fails the same way, so the event is a dead letter at
# once. Anything else (the database, the network, a bug) is retried with backoff, then dead.
PERMANENT = (NormaliseError, ValidationError, ValueError, LookupError, TypeError, AttributeError, ArithmeticError)
TRANSIENT = (ConnectorError, DatabaseError, DependencyMissing)
