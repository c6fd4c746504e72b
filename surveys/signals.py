"""Signals the surveys app sends, so results and follow-up code never sits in the submit path.

``response_saved`` is sent after the transaction that saved an answer has committed, with
``response_id`` (int) and ``created`` (bool: the first answer, not an edit). It is sent by the
Celery task ``surveys.tasks.announce_response_saved``, enqueued on commit: in production the
receivers (follow-ups, keyword tags) run in a worker, off the respondent's request; in the
embedded mode tasks run inline, right after the commit.
"""

from django.dispatch import Signal

response_saved = Signal()  # kwargs: response_id: int, created: bool
