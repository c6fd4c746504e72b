"""The filters every metrics dashboard shares (period, plan, owner, segment), read from the
URL so a dashboard view is a link that can be shared, bookmarked and reloaded.

Use it in a dashboard view (see ``metrics.views.common.dashboard_response``)::

    options = filter_options()                      # 3 small queries: plans, owners, segments
    filters, errors = filters_parse(request.GET, options=options)
    accounts = filters.restrict(Account.objects.all(), user=request.user)
    link = reverse("metrics:revenue") + filters.query_string()

A bad value never raises: that field falls back to its default and ``errors`` maps the
field's name to a message the filter form shows beside it (the page answers 400).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.http import urlencode

from core.parsing import ascii_int
from customers.models import Account, Segment, SegmentMember
from customers.selectors import portfolio_owners

DEFAULT_MONTHS = 12  # the last 11 complete months and the current one
MAX_MONTHS = 60  # a longer period is refused: charts of 60+ bars stop being readable
EARLIEST = dt.date(2000, 1, 1)
MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")  # ASCII digits: \d also takes "٢٠٢٥"
# URL parameter of each filter field; ``from`` and ``to`` are months written YYYY-MM.
PARAMS = ("from", "to", "plan", "owner", "segment")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    """The first day of the month ``count`` months after (or before) ``month``."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from ``start`` to ``end``, both included."""
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    return [add_months(start, i) for i in range(max(count, 0))]


@dataclass(frozen=True)
class FilterOptions:
    """What the filter form offers: (value, label) pairs. Built once per request by
    :func:`filter_options`; :func:`filters_parse` refuses values not among them."""

    plans: list[tuple[str, str]] = field(default_factory=list)
    owners: list[tuple[str, str]] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)


PLANS_CACHE_KEY = "metrics:filter-plans"
PLANS_CACHE_SECONDS = 5 * 60


def account_plans() -> list[str]:
    """The plans accounts are on. A DISTINCT over every account costs ~0.1 s at 100k
    accounts, so the list is cached for five minutes: a brand-new plan shows up in the
    filter a few minutes late."""
    plans = cache.get(PLANS_CACHE_KEY)
    if plans is None:
        accounts = Account.objects.exclude(plan="").order_by("plan")
        plans = list(accounts.values_list("plan", flat=True).distinct())
        cache.set(PLANS_CACHE_KEY, plans, PLANS_CACHE_SECONDS)
    return plans


def filter_options() -> FilterOptions:
    """At most three queries: the plans accounts are on (cached), the people who can own
    accounts, the saved segments."""
    return FilterOptions(
        plans=[(plan, plan) for plan in account_plans()],
        owners=[(str(user.pk), str(user)) for user in portfolio_owners()],
        segments=[
            (str(pk), name)
            for pk, name in Segment.objects.order_by("name").values_list("pk", "name")
        ],
    )


@dataclass(frozen=True)
class DashboardFilters:
    """One dashboard's filters. ``start`` and ``end`` are first days of months (both
    included); empty ``plan`` and ``None`` owner/segment mean "all"."""

    start: dt.date
    end: dt.date
    plan: str = ""
    owner: int | None = None
    segment: int | None = None

    @property
    def months(self) -> list[dt.date]:
        return months_between(self.start, self.end)

    @property
    def narrows_accounts(self) -> bool:
        """Whether plan, owner or segment leave some accounts out (the period does not)."""
        return bool(self.plan) or self.owner is not None or self.segment is not None

    def restrict(self, accounts: QuerySet[Account], *, user) -> QuerySet[Account]:
        """``accounts`` cut to what ``user`` may see and the plan, owner and segment chosen.
        No query runs here: the segment is a semi-join on its members as recorded at the
        last membership refresh (``SegmentMember``), so it costs nothing extra per page."""
        accounts = accounts.visible_to(user)
        if self.plan:
            accounts = accounts.filter(plan=self.plan)
        if self.owner is not None:
            accounts = accounts.filter(owner_id=self.owner)
        if self.segment is not None:
            members = SegmentMember.objects.filter(segment_id=self.segment).values("account_id")
            accounts = accounts.filter(pk__in=members)
        return accounts

    def params(self) -> dict[str, str]:
        """The filters as URL parameters, empty ones left out, in :data:`PARAMS` order."""
        values = {
            "from": self.start.strftime("%Y-%m"),
            "to": self.end.strftime("%Y-%m"),
            "plan": self.plan,
            "owner": "" if self.owner is None else str(self.owner),
            "segment": "" if self.segment is None else str(self.segment),
        }
        return {key: value for key, value in values.items() if value}

    def query_string(self, **extra: Any) -> str:
        """``?from=…&to=…`` (and any other filter set, then ``extra``) to keep the filters in
        a link: tabs, CSV downloads, a movement's account list."""
        params = self.params() | {k: str(v) for k, v in extra.items() if v not in (None, "")}
        return "?" + urlencode(params)

    def with_(self, **changes: Any) -> DashboardFilters:
        return replace(self, **changes)


def default_filters(*, today: dt.date | None = None) -> DashboardFilters:
    end = month_start(today or timezone.localdate())
    return DashboardFilters(start=add_months(end, 1 - DEFAULT_MONTHS), end=end)


def month_parse(value: str) -> dt.date | None:
    """The first day of the month ``value`` writes as YYYY-MM (ASCII digits), or None; year
    0000 is None too, since it is not a date. The one reading of a month in a URL, for the
    filters and for a movement's account-list path; callers judge the range (``EARLIEST``)."""
    match = MONTH_RE.match(value.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 1:
        return None
    return dt.date(year, month, 1)


def _whole(value: str) -> int | None:
    number = ascii_int(value)
    return number if number is not None and number < 10**11 else None


def filters_parse(
    params: QueryDict | dict[str, str],
    *,
    options: FilterOptions | None = None,
    today: dt.date | None = None,
) -> tuple[DashboardFilters, dict[str, str]]:
    """The filters a URL asks for, and a message per field it got wrong (that field keeps its
    default). With ``options``, a plan, owner or segment must be one of them."""
    default = default_filters(today=today)
    current = month_start(today or timezone.localdate())
    errors: dict[str, str] = {}
    start, end = default.start, default.end
    raw_from, raw_to = params.get("from", "") or "", params.get("to", "") or ""
    if raw_to:
        end = month_parse(raw_to) or end
        if month_parse(raw_to) is None:
            errors["to"] = "write the month as YYYY-MM, e.g. 2025-03."
        elif end > current:
            errors["to"] = "the period cannot end after the current month."
            end = default.end
        elif end < EARLIEST:
            errors["to"] = f"the period cannot end before {EARLIEST:%Y-%m}."
            end = default.end
    if raw_from:
        parsed = month_parse(raw_from)
        if parsed is None:
            errors["from"] = "write the month as YYYY-MM, e.g. 2025-03."
            start = add_months(end, 1 - DEFAULT_MONTHS)
        elif parsed > end:
            errors["from"] = "the period must start on or before the month it ends."
            start = add_months(end, 1 - DEFAULT_MONTHS)
        elif parsed < EARLIEST:
            errors["from"] = f"the period cannot start before {EARLIEST:%Y-%m}."
            start = add_months(end, 1 - DEFAULT_MONTHS)
        elif len(months_between(parsed, end)) > MAX_MONTHS:
            errors["from"] = f"the period can be at most {MAX_MONTHS} months long."
            start = add_months(end, 1 - MAX_MONTHS)
        else:
            start = parsed
    else:
        start = add_months(end, 1 - DEFAULT_MONTHS)

    plan = (params.get("plan", "") or "").strip()
    if len(plan) > 100:
        errors["plan"] = "a plan name is at most 100 characters."
        plan = ""
    elif plan and options is not None and plan not in dict(options.plans):
        errors["plan"] = f"no account is on the plan {plan!r}."
        plan = ""

    chosen: dict[str, int | None] = {}
    for name, known in (
        ("owner", options.owners if options else None),
        ("segment", options.segments if options else None),
    ):
        raw = (params.get(name, "") or "").strip()
        value = _whole(raw) if raw else None
        if raw and value is None:
            errors[name] = f"choose the {name} from the list."
        elif value is not None and known is not None and str(value) not in dict(known):
            errors[name] = f"there is no {name} {value} (it may have been deleted)."
            value = None
        chosen[name] = value
    return (
        DashboardFilters(
            start=start, end=end, plan=plan, owner=chosen["owner"], segment=chosen["segment"]
        ),
        errors,
    )
