"""Survey emails: multipart HTML + text, in the invitation's language, with one-tap score links.

Each score button is a plain link to ``/s/<token>/?score=N``: the page opens with that score
selected and the respondent confirms it, because mail scanners follow every link and a GET must
never record an answer. HTML is table-based with inline styles, which is what Outlook, Gmail
and Apple Mail all render the same way.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from surveys.models import SCALES, Invitation, SurveyKind
from surveys.texts import survey_texts

ONE_TAP_KINDS = (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES)


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def contact_email(
    *, subject: str, body: str, to: str, language: str, one_click_unsubscribe_url: str
) -> EmailMultiAlternatives:
    """An automated email to a customer's contact, with the headers every one of ours carries:
    RFC 8058 one-click unsubscribe (Gmail and Yahoo require it of bulk senders), the
    auto-generated mark that keeps auto-responders quiet, and the language it is written in.
    Surveys, playbook emails and loyalty warnings build theirs here."""
    return EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{one_click_unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Content-Language": language,
        },
    )


def answer_url(token: str) -> str:
    return absolute_url(reverse("respond:answer", args=[token]))


def unsubscribe_url(token: str) -> str:
    return absolute_url(reverse("respond:unsubscribe", args=[token]))


def invitation_email(
    *, invitation: Invitation, token: str, reminder: bool = False
) -> EmailMultiAlternatives:
    """The email for one invitation (or its reminder), ready for any Django email backend.

    In the contact's language; in English (``LANGUAGE_CODE``) when we do not know it, since an
    email has no browser to ask. The page behind the link still follows the browser.
    """
    survey, contact = invitation.survey, invitation.contact
    language = invitation.language or settings.LANGUAGE_CODE
    with override(language):
        texts = survey_texts(survey, language)
        link = answer_url(token)
        low, high = SCALES[survey.kind]
        scores = (
            [(value, f"{link}?score={value}") for value in range(low, high + 1)]
            if survey.kind in ONE_TAP_KINDS
            else []
        )
        subject = " ".join(texts.email_subject.split())  # a header: never a line break
        if reminder:
            subject = _("Reminder: %(subject)s") % {"subject": subject}
        context = {
            "language": language,
            "name": contact.name,
            "account_name": contact.account.name,
            "intro": texts.email_intro,
            "question": texts.question,
            "low_label": texts.low_label,
            "high_label": texts.high_label,
            "scores": scores,
            "answer_url": link,
            "unsubscribe_url": unsubscribe_url(token),
            "reminder": reminder,
            "subject": subject,
        }
        text_body = render_to_string("surveys/email/invitation.txt", context)
        html_body = render_to_string("surveys/email/invitation.html", context)
    message = contact_email(
        subject=subject,
        body=text_body,
        to=contact.email,
        language=language,
        one_click_unsubscribe_url=absolute_url(
            reverse("respond:unsubscribe_one_click", args=[token])
        ),
    )
    message.attach_alternative(html_body, "text/html")
    return message
