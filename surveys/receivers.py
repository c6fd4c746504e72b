"""What happens after an answer is saved: close the loop and tag it.

Connected to ``surveys.signals.response_saved`` in ``SurveysConfig.ready``. The signal is sent
by ``surveys.services.responses_announce`` (the outbox the beat drains) after the answer has
committed, so this runs in a worker (inline in the embedded mode), never inside the
respondent's transaction. Both steps are idempotent: each runs even if the other fails, and
the first failure is raised again so the answer stays in the outbox for the next run.
``follow_ups_create_missing`` repairs anything a permanent failure left out.
"""

from __future__ import annotations

import logging

from surveys.services import follow_up_create_for_response, response_auto_tag

logger = logging.getLogger(__name__)


def on_response_saved(sender, response_id: int, created: bool = False, **kwargs) -> None:
    failure: Exception | None = None
    for step in (follow_up_create_for_response, response_auto_tag):
        try:
            step(response_id=response_id)
        except Exception as exc:
            logger.exception("%s failed for response %s", step.__name__, response_id)
            failure = failure or exc
    if failure is not None:
        raise failure
