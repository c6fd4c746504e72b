"""What the loyalty services refuse, by name, so pages can say why (a 400 or a form error,
never a 500)."""

from __future__ import annotations


class LoyaltyError(Exception):
    """Base of every refusal; ``str(error)`` is a sentence a user can read."""


class InvalidRequest(LoyaltyError, ValueError):
    """Bad input: points that are not a positive whole number, an empty or overlong key…"""


class IdempotencyConflict(LoyaltyError):
    """The key was already used for another account or another kind of operation."""


class InsufficientPoints(LoyaltyError):
    def __init__(self, needed: int, available: int) -> None:
        self.needed = needed
        self.available = available
        super().__init__(f"This needs {needed} points; the account has {available}.")


class RewardUnavailable(LoyaltyError):
    """The reward is switched off."""


class TierTooLow(LoyaltyError):
    """The reward needs a higher tier than the account holds."""


class LimitReached(LoyaltyError):
    """The account has already redeemed this reward as often as it may."""


class OutOfStock(LoyaltyError):
    """No units of the reward are left."""


class InvalidTransition(LoyaltyError):
    """A redemption cannot move from its state to the one asked (e.g. fulfil a cancelled one)."""


class NotReversible(LoyaltyError):
    """Only earnings and positive adjustments can be clawed back, and not beyond their points."""
