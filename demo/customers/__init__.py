"""A deterministic demo SaaS company, fast enough to build 100k accounts for the benchmarks.

Why it is built this way:

- **Deterministic.** One ``random.Random`` per account, seeded from ``(seed, index)``, and a
  ``now`` passed in by the caller (the command uses today's midnight UTC): the same seed on the
  same day gives the same rows however the work is chunked.
- **A story per account, then rows.** Each account gets a history first (signup, trial,
  revenue changes, lifecycle moves, usage pattern, payments, tickets); rows are rendered from
  it. Derived columns are never computed here: ``Account.mrr`` and friends come from
  :func:`customers.services.accounts_refresh_revenue`, last activity and last seen from
  aggregates over the loaded events — set-based, after loading, so they agree with the
  histories by construction.
- **Bulk loading.** Rows stream in chunks of accounts (memory stays bounded): PostgreSQL gets
  ``COPY``, SQLite ``executemany``. On PostgreSQL, tables that are empty when seeding starts
  are loaded without their secondary indexes and foreign keys, which are recreated from the
  catalog's own definitions at the end — in the same transaction, so a failure leaves the
  schema exactly as it was (PostgreSQL's "Populating a Database" advice).

Demo rows are recognisable: external ids start with :data:`DEMO_PREFIX` and usage events have
``source = DEMO_SOURCE``; :func:`demo_flush` removes exactly those accounts (and what hangs off
them) and nothing else.

The summaries follow :mod:`customers.ingest`, so the demo looks as if its events had been
ingested: ``Account.last_activity_at`` is the latest event that is not a billing event
(``BILLING_EVENT_TYPES``: a dormant account whose card is still charged is not active),
``Contact.last_seen_at`` the latest such event of that person, ``failed_payments`` the number
of ``payment_failed`` events and the card the one the latest ``card_updated`` event reported.

The modules, in the order a seed uses them: :mod:`.catalogue` (what the company sells and
to whom), :mod:`.story` (one account's history), :mod:`.usage` (its events and tickets),
:mod:`.sink` (bulk writing) and :mod:`.seed` (:func:`demo_seed`, :func:`demo_flush`).
"""

from demo.customers.catalogue import (
    CSMS,
    DEFAULT_EVENTS_PER_ACCOUNT,
    DEMO_PREFIX,
    DEMO_SOURCE,
)
from demo.customers.seed import SeedStats, demo_flush, demo_seed
from demo.customers.sink import BULK_MODELS, Batch, demo_sink, postgres_prepare
from demo.customers.story import demo_now

__all__ = [
    "BULK_MODELS",
    "CSMS",
    "DEFAULT_EVENTS_PER_ACCOUNT",
    "DEMO_PREFIX",
    "DEMO_SOURCE",
    "Batch",
    "SeedStats",
    "demo_flush",
    "demo_now",
    "demo_seed",
    "demo_sink",
    "postgres_prepare",
]
