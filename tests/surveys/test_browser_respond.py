"""A respondent answers on a phone in a real browser: in Norwegian, with the keyboard, without
JavaScript, and in text that meets the AA contrast ratio."""

from __future__ import annotations

import re

import pytest

from surveys.models import Response, ResponseEdit
from tests.conftest import browser_page
from tests.customers.factories import make_contact
from tests.surveys.factories import make_link, make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


@pytest.fixture(params=[True], ids=["with-js"])
def phone(request, browser, live_server, csp_violations):
    yield from browser_page(
        request,
        browser,
        live_server,
        csp_violations,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="en-GB",
        java_script_enabled=request.param,
    )


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def choose(page, value: int) -> None:
    """Tap a score button (the label of a real radio input)."""
    page.locator(f"label.choice[for='q-score-{value}']").tap()


def test_a_norwegian_contact_answers_comments_and_edits_on_a_phone(phone):
    _invitation, token = make_link(make_survey("nps"), make_contact(locale="nb"))
    phone.goto(f"/s/{token}/?score=9")
    assert phone.locator("html").get_attribute("lang") == "nb"
    question = "Hvor sannsynlig er det at du vil anbefale oss til en venn eller kollega?"
    assert phone.get_by_role("heading", name=question).is_visible()
    assert phone.get_by_role("radio", name="9", exact=True).is_checked()  # from the email
    assert no_horizontal_scroll(phone)

    choose(phone, 9)
    # Keyboard: arrows move the choice, and the focused button shows a visible outline.
    phone.keyboard.press("ArrowRight")
    assert phone.get_by_role("radio", name="10", exact=True).is_checked()
    outline = phone.locator("label[for='q-score-10']").evaluate(
        "el => getComputedStyle(el).outlineStyle"
    )
    assert outline == "solid"
    phone.keyboard.press("ArrowLeft")
    assert phone.get_by_role("radio", name="9", exact=True).is_checked()
    assert Response.objects.count() == 0  # nothing is saved before the respondent sends
    phone.get_by_role("button", name="Send").tap()

    phone.wait_for_url(re.compile(r"/more/"))
    assert phone.get_by_text("Takk, svaret ditt er lagret.").is_visible()
    assert no_horizontal_scroll(phone)
    comment = phone.get_by_label(re.compile("Hva setter du mest pris på hos oss"))
    comment.fill("Rask og hyggelig kundestøtte.")
    phone.get_by_role("button", name="Send").tap()

    phone.wait_for_url(re.compile(r"/thanks/"))
    assert phone.get_by_role("heading", name="Tusen takk!").is_visible()
    assert phone.get_by_text("9 av 10").is_visible()
    assert phone.get_by_text("Rask og hyggelig kundestøtte.").is_visible()
    assert no_horizontal_scroll(phone)

    phone.get_by_role("link", name="Endre svaret ditt").tap()
    phone.wait_for_url(re.compile(r"/s/[^/]+/\?lang=nb$"))
    assert phone.get_by_role("radio", name="9", exact=True).is_checked()
    choose(phone, 10)
    phone.get_by_label(re.compile("Hva setter du mest pris på")).fill("Enda bedre enn jeg trodde.")
    assert no_horizontal_scroll(phone)
    phone.get_by_role("button", name="Lagre endringene").tap()

    phone.wait_for_url(re.compile(r"/thanks/"))
    assert phone.get_by_role("heading", name="Tusen takk!").is_visible()
    assert phone.get_by_text("10 av 10").is_visible()
    assert phone.get_by_text("Takk for svaret! Det hjelper oss å bli bedre.").is_visible()

    saved = Response.objects.get()
    assert (saved.score, saved.comment, saved.language) == (10, "Enda bedre enn jeg trodde.", "nb")
    edit = ResponseEdit.objects.get()
    assert (edit.previous_score, edit.previous_comment) == (9, "Rask og hyggelig kundestøtte.")


def test_the_csi_grid_fits_a_phone_and_switches_language(phone):
    _invitation, token = make_link(make_survey("csi"), make_contact(locale="nb"))
    phone.goto(f"/s/{token}/")
    assert no_horizontal_scroll(phone)
    phone.get_by_role("navigation", name="Språk").get_by_role("link", name="Русский").tap()
    phone.wait_for_url(re.compile(r"\?lang=ru$"))
    assert phone.locator("html").get_attribute("lang") == "ru"
    assert phone.get_by_role("group", name="Цена").is_visible()
    assert no_horizontal_scroll(phone)


@pytest.mark.parametrize("phone", [False], ids=["without-js"], indirect=True)
def test_a_respondent_without_javascript_answers_and_comments(phone):
    _invitation, token = make_link(make_survey("nps"), make_contact(locale="sv"))
    phone.goto(f"/s/{token}/")
    choose(phone, 3)
    phone.get_by_role("button", name="Skicka").tap()

    phone.wait_for_url(re.compile(r"/more/"))
    phone.get_by_role("textbox").fill("Långsamma rapporter.")
    phone.get_by_role("button", name="Skicka").tap()

    phone.wait_for_url(re.compile(r"/thanks/"))
    saved = Response.objects.get()
    assert (saved.score, saved.comment, saved.language) == (3, "Långsamma rapporter.", "sv")


# WCAG 2.1 AA: 4.5:1 for text (large text may have 3:1; none here is held to less than 4.5).
CONTRAST_OF_TEXT = """
() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      const parts = rgb(c);
      if (parts.length < 4 || parts[3] > 0) return parts.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll("h1, h2, p, label, legend, button, a, span, li")) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    worst.push([Math.round(ratio * 100) / 100, el.tagName + " " + el.textContent.trim().slice(0, 30)]);
  }
  return worst.sort((a, b) => a[0] - b[0]).slice(0, 3);
}
"""


def test_the_answer_page_text_meets_the_aa_contrast_ratio(phone):
    _invitation, token = make_link(make_survey("nps"), make_contact(locale="en"))
    phone.goto(f"/s/{token}/?score=7")
    lowest = phone.evaluate(CONTRAST_OF_TEXT)
    assert lowest, "no text measured"
    assert lowest[0][0] >= 4.5, lowest
