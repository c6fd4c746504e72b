"""RFM pages: the account page's RFM section."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from customers.sections import section_response
from customers.selectors import account_get
from metrics.models import AccountRfm
from metrics.rfm import rfm_computed_on


@require_GET
def account_rfm(request: HttpRequest, pk: int) -> HttpResponse:
    """The account's stored scores; without them, whether RFM has not run yet or the account
    had no payment or activity in the window."""
    account = account_get(user=request.user, account_id=pk)
    score = AccountRfm.objects.filter(account=account).first()
    context = {
        "score": score,
        "computed_on": rfm_computed_on() if score is None else score.as_of,
        "base_currency": settings.TENURE_BASE_CURRENCY,
    }
    return section_response(
        request,
        account=account,
        template="metrics/rfm_account_section.html",
        title="RFM",
        context=context,
    )
