"""What a respondent reads, in their language.

Each text comes from the survey's ``SurveyText`` row in that language, else its English row,
else the built-in default translated by gettext — so a survey nobody has written texts for
still works in every language we ship. One query per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import override

from surveys.defaults import default_item_label, default_text
from surveys.models import CLI_ITEMS, Survey, SurveyKind, SurveyText

LANGUAGES = ("en", "nb", "sv", "zh-hans", "ru")


@dataclass(frozen=True)
class SurveyTexts:
    language: str
    question: str
    follow_up_question: str
    follow_up_promoter: str
    follow_up_passive: str
    follow_up_detractor: str
    thank_you: str
    email_subject: str
    email_intro: str
    low_label: str
    high_label: str
    items: dict[str, str] = field(default_factory=dict)

    def follow_up_for(self, kind: str, score: int | None) -> str:
        """NPS asks promoters, passives and detractors different follow-up questions."""
        if kind == SurveyKind.NPS and score is not None:
            if score >= 9:
                return self.follow_up_promoter or self.follow_up_question
            if score >= 7:
                return self.follow_up_passive or self.follow_up_question
            return self.follow_up_detractor or self.follow_up_question
        return self.follow_up_question


def item_keys(survey: Survey) -> list[str]:
    if survey.kind == SurveyKind.CLI:
        return list(CLI_ITEMS)
    if survey.kind == SurveyKind.CSI:
        return survey.criteria
    return []


def survey_texts(survey: Survey, language: str) -> SurveyTexts:
    rows = {
        row.language: row
        for row in SurveyText.objects.filter(survey=survey, language__in={language, "en"})
    }
    chain = [row for row in (rows.get(language), rows.get("en")) if row is not None]

    def pick(name: str) -> str:
        for row in chain:
            value = (getattr(row, name) or "").strip()
            if value:
                return value
        return default_text(survey.kind, name)

    def pick_item(key: str) -> str:
        for row in chain:
            # The admin checks the shape; a row written some other way may not have it.
            items = row.items if isinstance(row.items, dict) else {}
            value = str(items.get(key) or "").strip()
            if value:
                return value
        return default_item_label(survey.kind, key)

    with override(language):
        return SurveyTexts(
            language=language,
            question=pick("question"),
            follow_up_question=pick("follow_up_question"),
            follow_up_promoter=pick("follow_up_promoter"),
            follow_up_passive=pick("follow_up_passive"),
            follow_up_detractor=pick("follow_up_detractor"),
            thank_you=pick("thank_you"),
            email_subject=pick("email_subject"),
            email_intro=pick("email_intro"),
            low_label=pick("low_label"),
            high_label=pick("high_label"),
            items={key: pick_item(key) for key in item_keys(survey)},
        )
