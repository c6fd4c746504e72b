"""The loyalty app's test builders: plain functions, not fixtures."""

from __future__ import annotations

import datetime as dt
import itertools

from loyalty.models import Reward, RewardKind, Tier

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def make_tier(name: str, threshold: int, multiplier: str = "1.00") -> Tier:
    return Tier.objects.create(name=name, threshold=threshold, multiplier=multiplier)


def make_reward(cost: int, **fields) -> Reward:
    """A reward costing ``cost`` points (a free month unless told otherwise)."""
    fields.setdefault("name", f"Reward {next(_ids)}")
    fields.setdefault("kind", RewardKind.FREE_MONTH)
    if fields["kind"] in (RewardKind.FREE_MONTH, RewardKind.TRAINING_HOURS):
        fields.setdefault("value", 1)
    return Reward.objects.create(cost_points=cost, **fields)
