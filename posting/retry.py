"""Retry actions for posting problems: each loads its document by id and calls the idempotent
service again, so a retry after fixing a mapping (or twice by mistake) is always safe. A posting
that is still refused raises, so triage records the new error and keeps the exception open."""

from __future__ import annotations

from collections.abc import Callable

from commerce.models import Order, Payout, Refund
from posting import services
from posting.erp.services import erp_push_retry_or_raise
from posting.models import Reconciliation
from posting.reconciliation import payout_reconcile
from triage.retry import retry_action


class StillRefused(Exception):
    pass


def _outcome(outcome: services.PostingOutcome) -> services.PostingOutcome:
    if outcome.status == services.PostingStatus.REFUSED:
        raise StillRefused("; ".join(problem.message for problem in outcome.problems))
    return outcome


def _reconciled(reconciliation: Reconciliation) -> Reconciliation:
    """Differences are what a reconciliation retry fixes; lines in payout suspense have their own
    exception (reclassify them), so they do not keep this one failing."""
    if reconciliation.differences:
        reasons = "; ".join(difference["reason"] for difference in reconciliation.differences)
        raise StillRefused(f"The payout still does not reconcile: {reasons}")
    return reconciliation


def _erp_pushed(*, entry_id: int) -> object:
    return erp_push_retry_or_raise(entry_id=entry_id)


RETRY_ACTIONS: dict[str, Callable[..., object]] = {
    "posting.order": lambda order_id: _outcome(services.journal_post_order(order=Order.objects.get(pk=order_id))),
    "posting.refund": lambda refund_id: _outcome(services.journal_post_refund(refund=Refund.objects.get(pk=refund_id))),
    "posting.cancellation": lambda order_id: _outcome(
        services.journal_post_cancellation(order=Order.objects.get(pk=order_id))
    ),
    "posting.payout": lambda payout_id: _outcome(services.journal_post_payout(payout=Payout.objects.get(pk=payout_id))),
    "posting.payout_reconcile": lambda payout_id: _reconciled(
        payout_reconcile(payout=Payout.objects.get(pk=payout_id))
    ),
    "posting.erp_push": _erp_pushed,
}


def retry_actions_register() -> None:
    """Register the actions with triage (PostingConfig.ready)."""
    for name, action in RETRY_ACTIONS.items():
        retry_action(name)(action)
