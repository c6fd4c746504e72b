"""The respondent's pages behind a survey link: answer, follow-up comment, thank-you, unsubscribe.

Rules (docs/domain/survey-links.md): GET and HEAD never write (scanners open links), so a score in
the URL only pre-selects the button and the respondent's submit saves it. Unknown, tampered and
revoked links all get the same 404 page; expired links a friendly 410. Pages work without
JavaScript and use no third-party assets.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.parsing import ascii_int
from surveys.models import SCALES, Invitation, Response, SurveyKind
from surveys.services import (
    LinkGone,
    NoAnswerYet,
    SurveyClosed,
    answer_parse,
    contact_unsubscribe,
    response_submit,
)
from surveys.texts import LANGUAGES, SurveyTexts, item_keys, survey_texts
from surveys.tokens import LinkState, link_resolve

LANGUAGE_NAMES = {
    "en": "English",
    "nb": "Norsk bokmål",
    "sv": "Svenska",
    "zh-hans": "简体中文",
    "ru": "Русский",
}


def _public(view):
    """Survey links are for people without a Tenure login, and are never cached."""
    return login_not_required(never_cache(view))


# --- language -------------------------------------------------------------------------------


def pick_language(request: HttpRequest, invitation: Invitation | None = None) -> str:
    """The switcher's choice, else the contact's language, else the browser's, else English."""
    chosen = request.POST.get("lang") or request.GET.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if invitation is not None and invitation.language in LANGUAGES:
        return invitation.language
    return browser_language(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))


# Norwegian browsers often say "no" (or "nn", Nynorsk); Bokmål is the written Norwegian we have.
_LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}


def browser_language(header: str) -> str:
    """The first of ours the browser asks for, by its weights (``Accept-Language``), else
    English. Django's own matching knows nothing of "no" meaning Norwegian."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, weight = part.strip().partition(";")
        try:
            q = float(weight.strip().removeprefix("q=")) if weight else 1.0
        except ValueError:
            continue
        if q > 0 and tag and tag != "*":
            wanted.append((-q, position, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        primary, _, region = tag.partition("-")
        tag = "-".join(filter(None, (_LANGUAGE_ALIASES.get(primary, primary), region)))
        try:
            code = translation.get_supported_language_variant(tag)
        except LookupError:
            continue
        if code in LANGUAGES:
            return code
    return "en"


def _languages(current: str) -> list[dict]:
    return [
        {"code": code, "name": name, "current": code == current}
        for code, name in LANGUAGE_NAMES.items()
    ]


def _finish(response: HttpResponse, language: str) -> HttpResponse:
    response["Content-Language"] = language
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _page(request, template: str, context: dict, *, language: str, status: int = 200):
    context = {"languages": _languages(language), "language": language, **context}
    return _finish(render(request, template, context, status=status), language)


def _redirect(name: str, token: str, language: str) -> HttpResponse:
    url = f"{reverse(name, args=[token])}?{urlencode({'lang': language})}"
    return _finish(HttpResponseRedirect(url), language)


# --- link states ----------------------------------------------------------------------------


def _not_found(request: HttpRequest) -> HttpResponse:
    """One page for unknown, tampered and revoked links: nothing tells them apart."""
    language = pick_language(request)
    with translation.override(language):
        return _page(request, "surveys/public/not_found.html", {}, language=language, status=404)


def _expired(request: HttpRequest, invitation: Invitation, language: str) -> HttpResponse:
    return _page(
        request,
        "surveys/public/expired.html",
        {"expired_on": invitation.expires_at},
        language=language,
        status=410,
    )


def _closed(request, invitation: Invitation, language: str, *, post: bool) -> HttpResponse:
    """The survey stopped taking answers: show what was answered; refuse a submit (403)."""
    response = Response.objects.filter(invitation=invitation).first()
    texts = survey_texts(invitation.survey, language)
    return _page(
        request,
        "surveys/public/closed.html",
        {"summary": _summary(invitation.survey, response, texts)},
        language=language,
        status=403 if post else 200,
    )


# --- the answer form ------------------------------------------------------------------------


def _int_or_none(raw) -> int | None:
    return ascii_int(raw, signed=True)


def _scale(
    *, name, legend, low, high, selected, error, low_label, high_label, sub=False, heading=False
):
    return {
        "heading": heading,
        "name": name,
        "id": f"q-{name}",
        "legend": legend,
        "values": [(value, value == selected) for value in range(low, high + 1)],
        "count": high - low + 1,
        "low": low,
        "high": high,
        "low_label": low_label,
        "high_label": high_label,
        "error": error,
        "sub": sub,
    }


def _questions(survey, texts: SurveyTexts, *, values: dict, errors: dict) -> list[dict]:
    """The fieldsets of the form: one scale, three (CLI), or two per criterion (CSI)."""
    low, high = SCALES[survey.kind]
    labels = {"low_label": texts.low_label, "high_label": texts.high_label}
    if survey.kind in (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES):
        return [
            {
                "legend": "",
                "scales": [
                    _scale(
                        name="score",
                        legend=texts.question,
                        low=low,
                        high=high,
                        selected=values.get("score"),
                        error=errors.get("score"),
                        heading=True,
                        **labels,
                    )
                ],
            }
        ]
    if survey.kind == SurveyKind.CLI:
        return [
            {
                "legend": "",
                "scales": [
                    _scale(
                        name=f"item-{key}",
                        legend=texts.items[key],
                        low=low,
                        high=high,
                        selected=values.get(f"item-{key}"),
                        error=errors.get(f"item-{key}"),
                        **labels,
                    )
                ],
            }
            for key in item_keys(survey)
        ]
    parts = {
        "importance": _("How important is this to you?"),
        "satisfaction": _("How satisfied are you with us?"),
    }
    return [
        {
            "legend": texts.items[key],
            "scales": [
                _scale(
                    name=f"{part}-{key}",
                    legend=question,
                    low=low,
                    high=high,
                    selected=values.get(f"{part}-{key}"),
                    error=errors.get(f"{part}-{key}"),
                    sub=True,
                    **labels,
                )
                for part, question in parts.items()
            ],
        }
        for key in item_keys(survey)
    ]


def _values_from_response(survey, response: Response | None) -> dict:
    if response is None:
        return {}
    if survey.kind == SurveyKind.CLI:
        return {f"item-{key}": value for key, value in (response.answers or {}).items()}
    if survey.kind == SurveyKind.CSI:
        return {
            f"{part}-{key}": value
            for key, pair in (response.answers or {}).items()
            if isinstance(pair, dict)
            for part, value in pair.items()
        }
    return {"score": response.score}


def _values_from_post(data) -> dict:
    return {
        key: _int_or_none(value)
        for key, value in data.items()
        if key == "score" or key.startswith(("item-", "importance-", "satisfaction-"))
    }


def _summary(survey, response: Response | None, texts: SurveyTexts) -> dict | None:
    """What the respondent answered, for the follow-up and thank-you pages."""
    if response is None:
        return None
    _low, high = SCALES[survey.kind]
    items = []
    if survey.kind == SurveyKind.CLI:
        items = [(texts.items.get(key, key), value) for key, value in response.answers.items()]
    elif survey.kind == SurveyKind.CSI:
        items = [
            (
                texts.items.get(key, key),
                _("importance %(importance)s, satisfaction %(satisfaction)s")
                % {
                    "importance": pair.get("importance"),
                    "satisfaction": pair.get("satisfaction"),
                },
            )
            for key, pair in response.answers.items()
            if isinstance(pair, dict)
        ]
    return {
        "score": response.score,
        "high": high,
        "items": items,
        "comment": response.comment,
        "question": texts.question,
    }


def _errors_of(exc: ValidationError) -> dict[str, str]:
    return {field: messages[0] for field, messages in exc.message_dict.items()}


@_public
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """Step 1 (the score) for a new answer, or the whole answer for an edit."""
    editing = request.POST.get("step") == "edit"
    if request.method == "POST":
        # The hot path: a valid submit is saved and redirected without rendering anything.
        # Anything else falls through to the page below, which says what went wrong.
        try:
            done = response_submit(
                token=token,
                data=request.POST,
                with_score=True,
                with_comment=editing,
                language=request.POST.get("lang"),
            )
        except (ValidationError, LinkGone, SurveyClosed):
            pass
        else:
            step = "respond:comment" if done.ask_follow_up and not editing else "respond:thanks"
            return _redirect(step, token, done.language)

    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        return _not_found(request)
    invitation = link.invitation
    language = pick_language(request, invitation)
    with translation.override(language):
        if link.state is LinkState.EXPIRED:
            return _expired(request, invitation, language)
        survey = invitation.survey
        if not survey.is_active or not survey.is_open():
            return _closed(request, invitation, language, post=request.method == "POST")

        errors: dict = {}
        if request.method == "POST":
            try:  # again, for the messages in the page's language
                answer_parse(
                    survey=survey, data=request.POST, with_score=True, with_comment=editing
                )
            except ValidationError as exc:
                errors = _errors_of(exc)
            values = _values_from_post(request.POST)
            comment = request.POST.get("comment", "")
        else:
            response = Response.objects.filter(invitation=invitation).first()
            editing = response is not None
            values = _values_from_response(survey, response)
            comment = response.comment if response else ""
            from_email = _int_or_none(request.GET.get("score"))
            low, high = SCALES[survey.kind]
            if from_email is not None and low <= from_email <= high and _has_one_score(survey):
                values["score"] = from_email

        texts = survey_texts(survey, language)
        return _page(
            request,
            "surveys/public/answer.html",
            {
                "survey": survey,
                "texts": texts,
                "editing": editing,
                "questions": _questions(survey, texts, values=values, errors=errors),
                "intro": texts.question if survey.kind in (SurveyKind.CLI, SurveyKind.CSI) else "",
                "comment": comment,
                "comment_error": errors.get("comment"),
                "has_errors": bool(errors),
                "follow_up_question": texts.follow_up_for(survey.kind, values.get("score"))
                if survey.ask_follow_up
                else "",
            },
            language=language,
            status=400 if errors else 200,
        )


def _has_one_score(survey) -> bool:
    return survey.kind in (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES)


@_public
@require_http_methods(["GET", "HEAD", "POST"])
def comment(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2: the open follow-up question, worded for the score just given."""
    if request.method == "POST":
        try:
            done = response_submit(
                token=token,
                data=request.POST,
                with_score=False,
                with_comment=True,
                language=request.POST.get("lang"),
            )
        except (ValidationError, LinkGone, SurveyClosed, NoAnswerYet):
            pass
        else:
            return _redirect("respond:thanks", token, done.language)

    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        return _not_found(request)
    invitation = link.invitation
    language = pick_language(request, invitation)
    with translation.override(language):
        if link.state is LinkState.EXPIRED:
            return _expired(request, invitation, language)
        survey = invitation.survey
        response = Response.objects.filter(invitation=invitation).first()
        if response is None:
            return _redirect("respond:answer", token, language)
        if not survey.is_active or not survey.is_open():
            return _closed(request, invitation, language, post=request.method == "POST")
        error = None
        text = response.comment
        if request.method == "POST":
            text = request.POST.get("comment", "")
            try:
                answer_parse(survey=survey, data=request.POST, with_score=False, with_comment=True)
            except ValidationError as exc:
                error = _errors_of(exc).get("comment")
        texts = survey_texts(survey, language)
        return _page(
            request,
            "surveys/public/comment.html",
            {
                "survey": survey,
                "question": texts.follow_up_for(survey.kind, response.score),
                "summary": _summary(survey, response, texts),
                "comment": text,
                "comment_error": error,
            },
            language=language,
            status=400 if error else 200,
        )


@_public
@require_http_methods(["GET", "HEAD"])
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        return _not_found(request)
    invitation = link.invitation
    language = pick_language(request, invitation)
    with translation.override(language):
        if link.state is LinkState.EXPIRED:
            return _expired(request, invitation, language)
        response = Response.objects.filter(invitation=invitation).first()
        if response is None:
            return _redirect("respond:answer", token, language)
        survey = invitation.survey
        texts = survey_texts(survey, language)
        return _page(
            request,
            "surveys/public/thanks.html",
            {
                "texts": texts,
                "summary": _summary(survey, response, texts),
                "can_edit": survey.is_active and survey.is_open(),
            },
            language=language,
        )


@_public
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks; only the POST of the confirm button unsubscribes. Works on expired links too:
    people unsubscribe from old emails."""
    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        return _not_found(request)
    invitation = link.invitation
    language = pick_language(request, invitation)
    with translation.override(language):
        done = invitation.contact.do_not_survey
        if request.method == "POST":
            contact_unsubscribe(invitation=invitation, now=timezone.now())
            done = True
        return _page(request, "surveys/public/unsubscribe.html", {"done": done}, language=language)


@csrf_exempt  # RFC 8058 one-click: the mail provider POSTs; the link's token is the secret.
@login_not_required
@never_cache
@require_POST
def unsubscribe_one_click(request: HttpRequest, token: str) -> HttpResponse:
    link = link_resolve(token)
    if link.state is LinkState.UNKNOWN:
        return _not_found(request)
    contact_unsubscribe(invitation=link.invitation, now=timezone.now())
    return HttpResponse("Unsubscribed.", content_type="text/plain; charset=utf-8")
