"""What happens after an answer is saved: close the loop and tag it.

Connected to ``surveys.signals.response_saved`` in ``SurveysConfig.ready``. The signal fires
after the answer has committed, in the respondent's request: the work is a few indexed queries,
and a failure here is logged rather than raised, because the answer is already safe and the
respondent must not see an error for our bookkeeping. ``follow_ups_create_missing`` repairs
anything a failure left out.
"""

from __future__ import annotations

import logging

from surveys.services import follow_up_create_for_response, response_auto_tag

logger = logging.getLogger(__name__)


def on_response_saved(sender, response_id: int, created: bool = False, **kwargs) -> None:
    for step in (follow_up_create_for_response, response_auto_tag):
        try:
            step(response_id=response_id)
        except Exception:
            logger.exception("%s failed for response %s", step.__name__, response_id)
