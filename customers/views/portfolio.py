"""The portfolio: a CSM's book of business, filtered in the URL so views are shareable and the
back button works; and its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import push_url

from core.spreadsheet import csv_safe
from customers.forms import PortfolioFilterForm
from customers.selectors import portfolio_accounts, portfolio_page

PAGE_SIZE = 50

# Sortable columns: (label, sort key, whether the first click sorts descending).
SORTABLE = {
    "name": ("Account", False),
    "mrr": ("MRR", True),
    "stage": ("Stage", False),
    "health": ("Health", False),
    "renewal": ("Renewal", False),
    "activity": ("Last activity", True),
}


def portfolio(request: HttpRequest) -> HttpResponse:
    form = PortfolioFilterForm(request.GET, user=request.user)
    context: dict[str, Any] = {"form": form}
    status = 200
    if form.is_valid():
        params = form.canonical_params()
        page = portfolio_page(
            user=request.user,
            filters=form.filters(),
            number=form.cleaned_data.get("page") or 1,
            per_page=PAGE_SIZE,
        )
        context |= {
            "page": page,
            "columns": _sort_columns(request.path, params, form.cleaned_data["sort"]),
            "pages": _page_links(request.path, params, page),
            "export_url": reverse("customers:portfolio_export") + _qs(params),
            "canonical_url": _page_url(request.path, params, page.number),
        }
    else:
        status = 400
        context["errors"] = form.error_messages()

    partial = request.htmx and not request.htmx.history_restore_request
    template = "customers/portfolio.html#results" if partial else "customers/portfolio.html"
    response = render(request, template, context, status=status)
    if partial and "canonical_url" in context:
        push_url(response, context["canonical_url"])
    return response


def _qs(params: QueryDict) -> str:
    return f"?{params.urlencode()}" if params else ""


def _sort_columns(path: str, params: QueryDict, current: str) -> dict[str, dict[str, str]]:
    """Header links: clicking the sorted column flips its direction; any new sort starts
    from page one."""
    columns = {}
    for key, (label, desc_first) in SORTABLE.items():
        if current == key:
            target, aria = f"-{key}", "ascending"
        elif current == f"-{key}":
            target, aria = key, "descending"
        else:
            target, aria = (f"-{key}" if desc_first else key), "none"
        linked = params.copy()
        linked["sort"] = target
        if target == "name":
            del linked["sort"]
        columns[key] = {"label": label, "href": path + _qs(linked), "aria_sort": aria}
    return columns


def _page_url(path: str, params: QueryDict, number: int) -> str:
    linked = params.copy()
    if number > 1:
        linked["page"] = str(number)
    return path + _qs(linked)


def _page_links(path: str, params: QueryDict, page) -> dict[str, str]:
    def link(number: int) -> str:
        return _page_url(path, params, number)

    links = {}
    if page.has_previous():
        links["first"] = link(1)
        links["previous"] = link(page.previous_page_number())
    if page.has_next():
        links["next"] = link(page.next_page_number())
        links["last"] = link(page.paginator.num_pages)
    return links


# --- CSV export ------------------------------------------------------------------------------

# (CSV header, queryset field): read as plain tuples, since building 100k model instances
# would cost more than the query.
CSV_COLUMNS = [
    ("external_id", "external_id"),
    ("name", "name"),
    ("domain", "domain"),
    ("plan", "plan"),
    ("stage", "stage"),
    ("owner_email", "owner__email"),
    ("mrr", "mrr"),
    ("currency", "currency"),
    ("mrr_base", "mrr_base"),
    ("renewal_date", "renewal_date"),
    ("last_activity_at", "last_activity_at"),
    ("open_tickets", "open_tickets"),
    ("health_score", "health_score"),
    ("health_band", "health_band"),
]


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
class _Echo:
    """csv.writer wants a file; this one hands each line straight back."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date):  # dates and datetimes alike
        return value.isoformat()
    return csv_safe(value)


def _csv_rows(rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([header for header, _ in CSV_COLUMNS])
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


def portfolio_export(request: HttpRequest) -> HttpResponse:
    """The portfolio as filtered, streamed so 100k rows never sit in memory at once."""
    form = PortfolioFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return HttpResponse(
            "\n".join(form.error_messages()), status=400, content_type="text/plain; charset=utf-8"
        )
    accounts = portfolio_accounts(user=request.user, filters=form.filters())
    rows = accounts.values_list(*[field for _, field in CSV_COLUMNS]).iterator(chunk_size=2000)
    response = StreamingHttpResponse(_csv_rows(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="portfolio-{stamp}.csv"'
    return response
