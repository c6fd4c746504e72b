"""Signals other apps listen to, so customers never imports them.

``ticket_closed`` is sent (after commit) with ``ticket_id`` when a ticket moves to closed; the
surveys app uses it to send a transactional CSAT survey.
"""

from django.dispatch import Signal

ticket_closed = Signal()  # kwargs: ticket_id: int
