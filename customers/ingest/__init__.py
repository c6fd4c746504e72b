"""Bulk writes for data that flows in from a SaaS company's own systems.

The ingest API calls these, and so can anything else that has many rows at once (imports,
seeders). Each function takes a list of JSON-like items, checks every item on its own and
writes the valid ones set-based in one transaction: a fixed number of queries per batch,
whatever its size, and nothing half written when something unexpected fails.

Each answers ``{"accepted": n, "duplicates": n, "rejected": [{"index": i, "error": "field:
reason"}]}``. Valid items land even when others are refused, and sending the same batch again
creates nothing new: its items come back as duplicates (an upsert that would change nothing
is a duplicate too).
"""

from customers.ingest.events import ACTIVITY_PRECISION, BILLING_EVENT_TYPES, events_ingest
from customers.ingest.records import (
    STAGE_CHANGE_SOURCE,
    TICKET_CLOSE_SIGNAL_WINDOW,
    accounts_upsert,
    contacts_upsert,
    tickets_upsert,
)
from customers.ingest.results import IngestResult, ItemError, Outcome, RejectedItem
from customers.ingest.revenue import revenue_changes_record
from customers.ingest.segment import SEGMENT_SOURCE, segment_ingest

__all__ = [
    "ACTIVITY_PRECISION",
    "BILLING_EVENT_TYPES",
    "SEGMENT_SOURCE",
    "STAGE_CHANGE_SOURCE",
    "TICKET_CLOSE_SIGNAL_WINDOW",
    "IngestResult",
    "ItemError",
    "Outcome",
    "RejectedItem",
    "accounts_upsert",
    "contacts_upsert",
    "events_ingest",
    "revenue_changes_record",
    "segment_ingest",
    "tickets_upsert",
]
