"""The triage retry actions: re-send a partial deployment's failed channels, re-publish a drifted offer."""

from __future__ import annotations

from promotions.deployment import RETRY_ACTION, deployments_retry_failed
from promotions.drift import DRIFT_RETRY_ACTION, offer_republish
from promotions.prices import PRICE_RETRY_ACTION, price_list_resend
from triage.retry import retry_action


@retry_action(RETRY_ACTION)
def _retry_deployment(promotion_id: int) -> None:
    deployments_retry_failed(promotion_id=promotion_id)


@retry_action(PRICE_RETRY_ACTION)
def _retry_price_list(deployment_id: int) -> None:
    price_list_resend(deployment_id=deployment_id)


@retry_action(DRIFT_RETRY_ACTION)
def _retry_offer_drift(deployment_id: int) -> None:
    offer_republish(deployment_id=deployment_id)
