"""Sections that apps above customers add to the account page.

customers cannot import the apps built on it, so an app registers its section here from its
``AppConfig.ready``; the account page loads each one by htmx from the app's own view (a link
to the same view is there for anyone without JavaScript).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class AccountSection:
    key: str  # the element id and heading id prefix on the page
    title: str
    url_name: str  # a view taking the account's pk
    order: int = 100


_SECTIONS: dict[str, AccountSection] = {}


def register_section(section: AccountSection) -> None:
    _SECTIONS[section.key] = section


def sections() -> list[AccountSection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def section_response(
    request: HttpRequest,
    *,
    account,
    template: str,
    title: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """One section of the account page: the fragment for htmx, and for a browser following
    the section's link (or restoring history) a whole page around it."""
    context = {"account": account, "section_title": title} | context
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, template, context, status=status)
    context["section_template"] = template
    return render(request, "customers/account_section.html", context, status=status)


@dataclass(frozen=True)
class HeaderFact:
    """A short fact an app above customers shows in the account page's header, e.g. the
    loyalty balance and tier. ``value`` takes the account and returns plain text (escaped by
    the template), at most one query."""

    key: str
    title: str
    value: Callable[[Any], str]
    order: int = 100


_FACTS: dict[str, HeaderFact] = {}


def register_header_fact(fact: HeaderFact) -> None:
    _FACTS[fact.key] = fact


def header_facts(account) -> list[tuple[str, str, str]]:
    """(key, title, text) of every registered fact for ``account``, in order."""
    facts = sorted(_FACTS.values(), key=lambda f: (f.order, f.key))
    return [(fact.key, fact.title, fact.value(account)) for fact in facts]
