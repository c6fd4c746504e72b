"""The pages' one door to redemption writes: redeem on an account's behalf, approve, fulfil,
cancel. The ledger work is ``loyalty.services``'; this turns its refusals into one exception
with a sentence a person can act on, so views show a message, never a 500."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from loyalty import services
from loyalty.models import Redemption, Reward

ACTIONS = ("approve", "fulfil", "cancel")


class RedeemRefused(Exception):
    """The redemption or the move was refused; ``str()`` says why, for the page."""


REFUSALS = (services.LoyaltyError, ValidationError)


def _message(error: Exception) -> str:
    if isinstance(error, services.InsufficientPoints):
        return "Not enough points for this reward."
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "This cannot be done now."


def redeem_for(
    *, account, reward: Reward, idempotency_key: str, user=None, contact=None
) -> Redemption:
    """Redeem ``reward`` for ``account`` (requested by a CSM or by one of its contacts)."""
    try:
        return services.redeem(
            account,
            reward,
            idempotency_key=idempotency_key,
            requested_by=user,
            requested_by_contact=contact,
        )
    except REFUSALS as error:
        raise RedeemRefused(_message(error)) from error


def move(*, redemption: Redemption, action: str, user, reason: str = "") -> Redemption:
    """Approve, fulfil or cancel."""
    if action not in ACTIONS:
        raise RedeemRefused(f"Unknown action {action!r}.")
    try:
        if action == "approve":
            return services.redemption_approve(redemption=redemption, by=user)
        if action == "fulfil":
            return services.redemption_fulfil(redemption=redemption, by=user)
        return services.redemption_cancel(redemption=redemption, by=user, reason=reason)
    except REFUSALS as error:
        raise RedeemRefused(_message(error)) from error
