"""What a failure's cause says by default: how severe it is and what kind of fix it needs.

One catalogue for every app that raises into the inbox (connectors, posting, the ERP push), so a
caller of `triage.services.exception_raise` names the kind and cause and gets the same severity
and fix class wherever it raises from. A caller may still pass either explicitly."""

from __future__ import annotations

from triage.models import FixClass, Kind, Severity

CAUSE_SEVERITY = {
    # connectors: sync, webhooks, normalise
    "auth": Severity.HIGH,
    "dead_letter": Severity.HIGH,
    "unsafe_url": Severity.HIGH,
    "token_refresh": Severity.HIGH,
    "normalise": Severity.NORMAL,
    "invalid_document": Severity.NORMAL,
    "dependency_missing": Severity.NORMAL,
    "rate_limited": Severity.NORMAL,
    "timeout": Severity.NORMAL,
    "vendor_unavailable": Severity.NORMAL,
    "bad_response": Severity.NORMAL,
    "validation": Severity.NORMAL,
    "sync_failed": Severity.NORMAL,
    "unknown_topic": Severity.LOW,
    "unmapped_sku": Severity.NORMAL,
    # posting: journal building, batches, reconciliation
    "unbalanced": Severity.HIGH,
    "refund_exceeds_posted": Severity.HIGH,
    "currency_mismatch": Severity.HIGH,
    "unmapped": Severity.NORMAL,
    "totals_mismatch": Severity.NORMAL,
    "order_not_posted": Severity.LOW,
    "invalid": Severity.NORMAL,
    "reconciliation_difference": Severity.NORMAL,
    "batch_close_failed": Severity.HIGH,
    "payout_suspense": Severity.NORMAL,
    # flow health (triage/health.py): the cause is the alert rule's trigger
    "backlog_age": Severity.HIGH,
    "sync_latency": Severity.NORMAL,
    "erp_unreachable": Severity.HIGH,
    "channel_silence": Severity.HIGH,
    # promotions (issue 20): budget warnings, the budget or cap reached, a staged launch halted
    "budget_threshold": Severity.LOW,
    "budget_reached": Severity.HIGH,
    "launch_halted": Severity.HIGH,
    "fallback_applied": Severity.HIGH,
    # promotions: a live offer that no longer matches its approved version
    "offer_drift": Severity.HIGH,
}

# The fix a kind of failure needs, unless its cause says otherwise (below).
KIND_FIX_CLASS = {
    Kind.MAPPING: FixClass.MAPPING,
    Kind.NORMALISE: FixClass.PARSE,
    Kind.WEBHOOK: FixClass.PARSE,
    Kind.RECONCILIATION: FixClass.VALUE,
    Kind.POSTING: FixClass.BUSINESS_RULE,
    Kind.ERP_PUSH: FixClass.VALUE,
    Kind.SYNC: FixClass.CONNECTION_AUTH,
    Kind.PROMOTION_DEPLOYMENT: FixClass.BUSINESS_RULE,
    Kind.INVENTORY: FixClass.VALUE,
    Kind.FLOW_HEALTH: FixClass.CONNECTION_AUTH,
}

# The ERP's own error kinds (and the chart import's causes) say more precisely what to fix.
_ERP_CAUSE_FIX_CLASS = {
    "reconnect_required": FixClass.CONNECTION_AUTH,
    "auth_expired": FixClass.CONNECTION_AUTH,
    "rate_limited": FixClass.RATE_LIMIT,
    "bad_response": FixClass.PARSE,
    "unknown_account": FixClass.MAPPING,
    "account_deactivated": FixClass.MAPPING,
    "closed_period": FixClass.BUSINESS_RULE,
    "validation": FixClass.VALUE,
}
CAUSE_FIX_CLASS = {Kind.ERP_PUSH: _ERP_CAUSE_FIX_CLASS, Kind.MAPPING: _ERP_CAUSE_FIX_CLASS}


def cause_severity(cause: str) -> str:
    return CAUSE_SEVERITY.get(cause, Severity.NORMAL)


def cause_fix_class(kind: str, cause: str) -> str:
    return CAUSE_FIX_CLASS.get(kind, {}).get(cause) or KIND_FIX_CLASS.get(kind, FixClass.VALUE)
