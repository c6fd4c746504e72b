"""Signals the surveys app sends, so results and follow-up code never sits in the submit path.

``response_saved`` is sent after the transaction that saved an answer has committed, with
``response_id`` (int) and ``created`` (bool: the first answer, not an edit). The submit only
marks the answer (``Response.to_announce``, a transactional outbox); the beat task
``surveys.tasks.announce_responses`` sends the signal in a worker, within seconds, and clears
the mark — so receivers (follow-ups, keyword tags) never slow a respondent down and nothing is
lost while Redis or the workers are down. In the embedded mode it is sent right after commit.
"""

from django.dispatch import Signal

response_saved = Signal()  # kwargs: response_id: int, created: bool
