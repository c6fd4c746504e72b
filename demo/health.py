"""The demo company's health: today's snapshot of every account, so the first screen of
`make run` already shows who is at risk."""

from __future__ import annotations

import datetime as dt
import random

from health.services import health_recompute


def seed_health(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    written = health_recompute()
    if stdout is not None:
        stdout.write(f"Health: {written} accounts scored.")
