"""The demo company's RFM scores, computed once the revenue history and payment events exist,
so `make run`'s RFM dashboard, account sections and ?rfm= filters show real segments instead
of "not computed yet". One set-based statement: cheap even for the 100k-account demo."""

from __future__ import annotations

import datetime as dt
import random

from metrics.rfm import rfm_recompute


def seed_rfm(*, rng: random.Random, now: dt.datetime, stdout=None) -> None:
    scored = rfm_recompute(today=now.date())
    if stdout is not None:
        stdout.write(f"RFM: {scored} accounts scored.")
