"""Sections that apps above customers add to the account page.

customers cannot import the apps built on it, so an app registers its section here from its
``AppConfig.ready``; the account page loads each one by htmx from the app's own view (a link
to the same view is there for anyone without JavaScript).
"""

from __future__ import annotations

from dataclasses import dataclass


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
