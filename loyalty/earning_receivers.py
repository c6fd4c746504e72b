"""What the loyalty app does when something it pays for happens elsewhere.

Receivers only queue work (after commit): the ingest request or the survey submit is never
slowed by the ledger, and a lost message is caught up by the nightly pass, which looks at
the last two days of events (every award is keyed, so the catch-up never pays twice).
"""

from __future__ import annotations

from django.db import transaction


def on_accounts_touched(sender, account_ids: list[int], **kwargs) -> None:
    """New usage events (or other data) for these accounts: pay their event and referral
    rules, for the whole batch at once."""
    from loyalty.earning_tasks import earn_events

    ids = sorted(set(account_ids))
    if ids:
        transaction.on_commit(lambda: earn_events.delay(ids), robust=True)


def on_response_saved(sender, response_id: int, created: bool = True, **kwargs) -> None:
    """A survey answer: pay the survey rules (an edit keys on the same response, so it never
    pays again; the score is never read)."""
    from loyalty.earning_tasks import earn_response

    transaction.on_commit(lambda: earn_response.delay(response_id), robust=True)
