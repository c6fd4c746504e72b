"""Every write to the loyalty program (docs/domain/loyalty.md). Import from here:
``loyalty.services.award``, ``redeem``, ``balance``, ``InsufficientPoints``…"""

from loyalty.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidRequest,
    InvalidTransition,
    LimitReached,
    LoyaltyError,
    NotReversible,
    OutOfStock,
    RewardUnavailable,
    TierTooLow,
)
from loyalty.services.ledger import (
    adjust,
    award,
    balance,
    member_lock,
    multiplied,
    reverse,
    tier_multiplier,
)
from loyalty.services.nightly import lots_activate, lots_expire
from loyalty.services.redemptions import (
    redeem,
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
)
from loyalty.services.tiers import tier_floor_set, tiers_recalculate

__all__ = [
    "IdempotencyConflict",
    "InsufficientPoints",
    "InvalidRequest",
    "InvalidTransition",
    "LimitReached",
    "LoyaltyError",
    "NotReversible",
    "OutOfStock",
    "RewardUnavailable",
    "TierTooLow",
    "adjust",
    "award",
    "balance",
    "lots_activate",
    "lots_expire",
    "member_lock",
    "multiplied",
    "redeem",
    "redemption_approve",
    "redemption_cancel",
    "redemption_fulfil",
    "reverse",
    "tier_floor_set",
    "tier_multiplier",
    "tiers_recalculate",
]
