"""Signals other apps listen to, so customers never imports them.

``ticket_closed`` is sent (after commit) with ``ticket_id`` when a ticket moves to closed; the
surveys app uses it to send a transactional CSAT survey.

``accounts_touched`` is sent (after commit) with ``account_ids`` when data that derived figures
read has changed for those accounts: new usage events, tickets, revenue changes, account
fields. The health app marks them for an incremental recompute. A process that dies between
the commit and the signal loses only the early recompute: the nightly one covers every account.

``segment_entered`` is sent (after commit) with ``segment_id`` and ``account_ids`` when a
membership refresh finds accounts that newly match a saved segment; playbooks start from it.
The membership rows commit with the refresh, so an entry is announced once: a process that dies
between the commit and the signal loses that announcement, not the membership.
"""

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.dispatch import Signal

ticket_closed = Signal()  # kwargs: ticket_id: int
accounts_touched = Signal()  # kwargs: account_ids: list[int]
segment_entered = Signal()  # kwargs: segment_id: int, account_ids: list[int]


def accounts_touched_on_commit(account_ids: Iterable[int]) -> None:
    """Send ``accounts_touched`` for these accounts once the current transaction commits."""
    ids = sorted({pk for pk in account_ids if pk is not None})
    if ids:
        transaction.on_commit(
            partial(accounts_touched.send, sender=None, account_ids=ids), robust=True
        )


def segment_entered_on_commit(*, segment_id: int, account_ids: Iterable[int]) -> None:
    """Send ``segment_entered`` once the current transaction commits (nothing when empty)."""
    ids = sorted(set(account_ids))
    if ids:
        transaction.on_commit(
            partial(segment_entered.send, sender=None, segment_id=segment_id, account_ids=ids),
            robust=True,
        )
