"""The customer's own loyalty page, reached by a per-contact link (loyalty.links): the
account's balance, tier and progress, and the rewards it may request, in the contact's
language, phone-first.

The survey links' rules hold: unknown, tampered and revoked links get one 404 page, an expired
link a friendly 410; GET and HEAD never write (mail scanners open links). A request is a POST
with the CSRF token and a nonce from the page, which becomes the redemption's idempotency key:
a double tap requests the reward once.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.parsing import ascii_int
from loyalty import redemptions as redemption_actions
from loyalty.links import LinkState, link_resolve
from loyalty.models import Reward
from loyalty.selectors_pages import account_standing
from surveys.texts import LANGUAGES
from surveys.views.public import LANGUAGE_NAMES, browser_language

_NONCE_CHARS = set("0123456789abcdef")


def _language(request: HttpRequest, contact=None) -> str:
    """The switcher's choice, else the contact's language, else the browser's, else English."""
    chosen = request.POST.get("lang") or request.GET.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if contact is not None and contact.locale in LANGUAGES:
        return contact.locale
    return browser_language(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))


def _render(request, template: str, context: dict, *, language: str, status: int = 200):
    languages = [
        {"code": code, "name": name, "current": code == language}
        for code, name in LANGUAGE_NAMES.items()
    ]
    response = render(
        request, template, {"languages": languages, "language": language, **context}, status=status
    )
    response["Content-Language"] = language
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_vary_headers(response, ["Accept-Language"])
    return response


REASONS = {
    "tier": lambda item: _("Needs the %(tier)s tier") % {"tier": item["reward"].min_tier.name},
    "limit": lambda item: _("Already requested"),
    "stock": lambda item: _("Out of stock"),
    "balance": lambda item: _("Not enough points yet"),
}


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def page(request: HttpRequest, token: str) -> HttpResponse:
    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        language = _language(request)
        with translation.override(language):
            return _render(
                request, "loyalty/public/not_found.html", {}, language=language, status=404
            )
    contact = link.link.contact
    account = contact.account
    language = _language(request, contact)
    with translation.override(language):
        if link.state is LinkState.EXPIRED:
            return _render(
                request,
                "loyalty/public/expired.html",
                {"expired_on": link.link.expires_at},
                language=language,
                status=410,
            )
        error = ""
        if request.method == "POST":
            error = _request_reward(request, account=account, contact=contact, link=link.link)
            if not error:
                url = reverse("loyalty:public", args=[token])
                return HttpResponseRedirect(
                    f"{url}?{urlencode({'lang': language, 'requested': '1'})}"
                )
        standing = account_standing(account)
        for item in standing.rewards:
            reason = REASONS.get(item["reason"])
            item["why_not"] = reason(item) if reason else ""
        return _render(
            request,
            "loyalty/public/page.html",
            {
                "account": account,
                "contact": contact,
                "standing": standing,
                "program": standing.program,
                "nonce": uuid.uuid4().hex,
                "error": error,
                "requested": request.method == "GET" and request.GET.get("requested") == "1",
            },
            language=language,
            status=400 if error else 200,
        )


def _request_reward(request: HttpRequest, *, account, contact, link) -> str:
    """Request the posted reward; returns the message to show when it cannot be done."""
    nonce = request.POST.get("nonce", "")
    reward_id = ascii_int(request.POST.get("reward"))
    if not (16 <= len(nonce) <= 64 and set(nonce) <= _NONCE_CHARS):
        return _("This page is out of date. Please try again.")
    reward = Reward.objects.filter(pk=reward_id, active=True).first() if reward_id else None
    if reward is None:
        return _("Please choose a reward from the list.")
    try:
        redemption_actions.redeem_for(
            account=account,
            reward=reward,
            idempotency_key=f"link:{link.pk}:{nonce}",
            contact=contact,
        )
    except redemption_actions.RedeemRefused:
        return _("This reward cannot be requested right now.")
    return ""
