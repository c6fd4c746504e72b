"""Built-in texts of each survey kind, translated through gettext.

A survey with no ``SurveyText`` rows still reads well in every language we ship, because these
are the last fallback (see ``surveys.texts``). The demo seeder copies them into ``SurveyText``
rows so admins have something to edit.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from surveys.models import CLI_ITEMS, DEFAULT_CSI_CRITERIA, SurveyKind

_LIKELY = {"low_label": _("Not at all likely"), "high_label": _("Extremely likely")}
_THANK_YOU = _("Thank you for your answer! It helps us get better.")
_EMAIL_INTRO = _("We would love to hear what you think. It takes less than a minute.")
_ANYTHING_ELSE = _("Is there anything else you would like to tell us?")

DEFAULT_TEXTS: dict[str, dict[str, Promise | dict[str, Promise]]] = {
    SurveyKind.NPS: {
        "question": _("How likely are you to recommend us to a friend or colleague?"),
        **_LIKELY,
        "follow_up_question": _("What is the main reason for your score?"),
        "follow_up_promoter": _("Great to hear! What do you value most about us?"),
        "follow_up_passive": _("Thank you! What could we do to make your experience even better?"),
        "follow_up_detractor": _(
            "We are sorry to hear that. What disappointed you, and what should we improve?"
        ),
        "thank_you": _THANK_YOU,
        "email_subject": _("One quick question: would you recommend us?"),
        "email_intro": _EMAIL_INTRO,
    },
    SurveyKind.CSAT: {
        "question": _("How satisfied are you with the help you received?"),
        "low_label": _("Very dissatisfied"),
        "high_label": _("Very satisfied"),
        "follow_up_question": _("What could we have done better?"),
        "thank_you": _THANK_YOU,
        "email_subject": _("How did we do?"),
        "email_intro": _EMAIL_INTRO,
    },
    SurveyKind.CES: {
        "question": _(
            "How much do you agree with this statement: “The company made it easy for me to "
            "handle my issue.”"
        ),
        "low_label": _("Strongly disagree"),
        "high_label": _("Strongly agree"),
        "follow_up_question": _("What could we do to make it easier?"),
        "thank_you": _THANK_YOU,
        "email_subject": _("Was it easy? One quick question"),
        "email_intro": _EMAIL_INTRO,
    },
    SurveyKind.CLI: {
        "question": _("Three quick questions about us."),
        **_LIKELY,
        "follow_up_question": _ANYTHING_ELSE,
        "thank_you": _THANK_YOU,
        "email_subject": _("Three quick questions about us"),
        "email_intro": _EMAIL_INTRO,
        "items": {
            "recommend": _("How likely are you to recommend us to a friend or colleague?"),
            "buy_again": _("How likely are you to keep buying from us?"),
            "try_other": _("How likely are you to try our other products and services?"),
        },
    },
    SurveyKind.CSI: {
        "question": _(
            "For each aspect, tell us how important it is to you and how satisfied you are with us."
        ),
        "low_label": _("Not at all"),
        "high_label": _("Very much"),
        "follow_up_question": _ANYTHING_ELSE,
        "thank_you": _THANK_YOU,
        "email_subject": _("How are we doing? A short survey"),
        "email_intro": _EMAIL_INTRO,
        "items": {
            "price": _("Price"),
            "service_quality": _("Service quality"),
            "functionality": _("Functionality"),
            "reliability": _("Reliability"),
            "support": _("Support"),
        },
    },
}

TEXT_FIELDS = (
    "question",
    "follow_up_question",
    "follow_up_promoter",
    "follow_up_passive",
    "follow_up_detractor",
    "thank_you",
    "email_subject",
    "email_intro",
    "low_label",
    "high_label",
)

assert set(DEFAULT_TEXTS[SurveyKind.CLI]["items"]) == set(CLI_ITEMS)
assert set(DEFAULT_TEXTS[SurveyKind.CSI]["items"]) == set(DEFAULT_CSI_CRITERIA)


def default_text(kind: str, field: str) -> str:
    """One built-in text in the active language ("" when the kind has none)."""
    value = DEFAULT_TEXTS[kind].get(field, "")
    return str(value)


def default_item_label(kind: str, key: str) -> str:
    """A CLI question or CSI criterion label; unknown CSI keys read as their humanised key."""
    items = DEFAULT_TEXTS[kind].get("items", {})
    if key in items:
        return str(items[key])
    return key.replace("_", " ").strip().capitalize()


def default_texts_for(kind: str, language: str) -> dict:
    """All built-in texts of a kind in ``language``, ready for a ``SurveyText`` row."""
    with override(language):
        texts = {field: default_text(kind, field) for field in TEXT_FIELDS}
        texts["items"] = {
            key: str(label) for key, label in DEFAULT_TEXTS[kind].get("items", {}).items()
        }
    return texts
