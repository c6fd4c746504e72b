"""Every string a respondent or an email reader sees is translated in every shipped language.

Catalogs are regenerated with
``manage.py makemessages -l nb -l sv -l zh_Hans -l ru -i "var/*" -i "tests/*" -i "benchmarks/*"``
and compiled with ``manage.py compilemessages -l nb -l sv -l zh_Hans -l ru -i .venv``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation import gettext, override

from surveys.defaults import DEFAULT_TEXTS, TEXT_FIELDS, default_texts_for
from surveys.models import SurveyKind

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGS = ["nb", "sv", "zh_Hans", "ru"]
SAME_WORD = {("sv", "Support")}  # Swedish says "support" too


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs gettext's msgfmt")
@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_catalog_has_no_untranslated_or_fuzzy_entries(catalog):
    po = LOCALE / catalog / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert "translated message" in result.stderr


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of each entry: a small reader, enough for our own files."""
    entries, msgid, msgstr, fuzzy, current = [], None, None, False, None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            msgid, current = line[7:-1], "id"
        elif line.startswith("msgstr "):
            msgstr, current = line[8:-1], "str"
        elif line.startswith('"') and current:
            if current == "id":
                msgid += line[1:-1]
            else:
                msgstr += line[1:-1]
        elif not line.strip():
            if msgid is not None:
                entries.append((msgid, msgstr, fuzzy))
            msgid, msgstr, fuzzy, current = None, None, False, None
    return entries


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_entry_is_translated_and_the_compiled_catalog_is_current(catalog):
    po = LOCALE / catalog / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    entries = [entry for entry in _entries(po) if entry[0]]
    assert len(entries) > 60
    assert [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy] == []
    assert mo.exists() and mo.stat().st_size > 0
    assert mo.stat().st_mtime >= po.stat().st_mtime - 1, "run compilemessages"
    for msgid, _msgstr, _fuzzy in entries:
        assert msgid.count("%(") == _msgstr.count("%("), msgid


@pytest.mark.parametrize("language", ["nb", "sv", "zh-hans", "ru"])
@pytest.mark.parametrize("kind", SurveyKind.values)
def test_every_built_in_survey_text_is_translated(kind, language):
    english = default_texts_for(kind, "en")
    translated = default_texts_for(kind, language)
    for field in TEXT_FIELDS:
        if english[field]:
            assert translated[field] != english[field], (kind, field)
    for key, label in english["items"].items():
        if (language, label) not in SAME_WORD:
            assert translated["items"][key] != label, (kind, key)
    assert set(translated["items"]) == set(DEFAULT_TEXTS[kind].get("items", {}))


def test_gettext_serves_the_compiled_catalogs():
    with override("ru"):
        assert gettext("Thank you!") == "Спасибо!"
    with override("zh-hans"):
        assert gettext("Thank you!") == "谢谢！"
