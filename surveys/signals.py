"""Signals the surveys app sends, so results and follow-up code never sits in the submit path.

``response_saved`` is sent after the transaction that saved an answer has committed, with
``response_id`` (int) and ``created`` (bool: the first answer, not an edit). Receivers create
follow-ups and keyword tags; a slow receiver should enqueue a task rather than work inline.
"""

from django.dispatch import Signal

response_saved = Signal()  # kwargs: response_id: int, created: bool
