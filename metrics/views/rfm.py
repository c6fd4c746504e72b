"""RFM pages: the account page's RFM section and the RFM dashboard (``metrics:rfm``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from customers.models import Account
from customers.sections import section_response
from customers.selectors import account_get
from metrics.charts import bar_figure, rfm_grid_figure
from metrics.filters import DashboardFilters
from metrics.formulas import rfm_segment
from metrics.models import AccountRfm, RfmBasis
from metrics.rfm import rfm_computed_on
from metrics.selectors.rfm import SegmentTotal, rfm_breakdown, rfm_breakdown_empty, rfm_run
from metrics.tables import Chart, ChartTable, Link
from metrics.views.common import FilterState, dashboard_filters, dashboard_response


@require_GET
def account_rfm(request: HttpRequest, pk: int) -> HttpResponse:
    """The account's stored scores; without them, whether RFM has not run yet or the account
    had no payment or activity in the window."""
    account = account_get(user=request.user, account_id=pk)
    score = AccountRfm.objects.filter(account=account).first()
    context = {
        "score": score,
        "computed_on": rfm_computed_on() if score is None else score.as_of,
        "base_currency": settings.TENURE_BASE_CURRENCY,
    }
    return section_response(
        request,
        account=account,
        template="metrics/rfm_account_section.html",
        title="RFM",
        context=context,
    )


BASES = {"": "All scored", RfmBasis.PAYING: "Paying", RfmBasis.FREE: "Free"}


@dataclass(frozen=True)
class RfmFilters(DashboardFilters):
    """The shared filters plus which accounts' ranking to show (paying, free or both), so the
    tabs, the CSV links and the basis switch all keep it in the URL."""

    basis: str = ""

    def params(self) -> dict[str, str]:
        return super().params() | ({"basis": self.basis} if self.basis else {})


NEVER_RUN = "RFM not computed yet — it runs nightly."
NOTHING_SCORED = (
    "No account had a payment or product activity in the 12 months up to {day}, so none is "
    "scored: payments arrive as payment_succeeded events or from the revenue history."
)
NONE_MATCH = "No scored account matches these filters."


def _accounts_link(filters: DashboardFilters, key: str) -> str:
    """The portfolio listing a segment's accounts, narrowed like the dashboard."""
    params = {"owner": filters.owner or "all", "plan": filters.plan, "segment": filters.segment}
    params = {k: v for k, v in params.items() if v not in (None, "")} | {"rfm": key}
    return reverse("customers:portfolio") + "?" + urlencode(params)


def _segment_chart(totals: list[SegmentTotal], filters, currency: str, empty: str) -> Chart:
    scored = sum(t.accounts for t in totals)
    table = ChartTable(
        key="segments",
        title=f"Accounts and MRR by RFM segment ({currency})",
        columns=[
            "Segment",
            "Accounts",
            "Share of scored (%)",
            f"MRR today ({currency})",
            f"Revenue in 12 months ({currency})",
        ],
        rows=[
            [
                Link(t.label, _accounts_link(filters, t.key)),
                t.accounts,
                (Decimal(100 * t.accounts) / scored).quantize(Decimal("0.1")) if scored else None,
                t.mrr,
                t.monetary,
            ]
            for t in totals
        ],
    )
    figure = bar_figure([t.label for t in totals], [t.mrr for t in totals], unit=currency)
    return Chart(
        table=table,
        figure=None if empty else figure,
        empty=empty,
        note="Click a segment in the table or a tile above to list its accounts.",
    )


def _grid_chart(grid: dict[tuple[int, int], int], empty: str) -> Chart:
    scores = range(1, 6)
    counts = [[grid.get((r, f), 0) for f in scores] for r in reversed(scores)]
    labels = [[rfm_segment(r, f) for f in scores] for r in reversed(scores)]
    table = ChartTable(
        key="grid",
        title="Accounts by recency (R) and frequency (F) score",
        columns=["R \\ F", *(f"F{f}" for f in scores)],
        rows=[[f"R{r}", *row] for r, row in zip(reversed(scores), counts, strict=True)],
    )
    return Chart(
        table=table,
        figure=None if empty else rfm_grid_figure(counts, labels),
        empty=empty,
        note="5 is best: R5 paid most recently, F5 most often. The segment of each cell follows "
        "the DESIGN map.",
    )


@require_GET
def rfm_dashboard(request: HttpRequest) -> HttpResponse:
    """The RFM dashboard: the stored scores by segment (tiles, MRR chart, table) and on the
    R × F grid, narrowed by plan, owner, saved segment and basis (paying or free)."""
    shared = dashboard_filters(request)
    basis = (request.GET.get("basis") or "").strip()
    if basis not in BASES:
        shared.errors["basis"] = "choose all, paying or free accounts."
        basis = ""
    filters = RfmFilters(
        **{f.name: getattr(shared.filters, f.name) for f in fields(shared.filters)}, basis=basis
    )
    state = FilterState(filters, shared.errors, shared.options)
    switch = [
        {
            "value": value or "all",
            "label": label,
            "href": request.path + filters.with_(basis=value).query_string(),
            "current": value == basis,
        }
        for value, label in BASES.items()
    ]
    currency = settings.TENURE_BASE_CURRENCY
    run = rfm_run()
    accounts = state.filters.restrict(Account.objects.all(), user=request.user)
    if run.scored:
        breakdown = rfm_breakdown(accounts=accounts, basis=basis)
    else:
        breakdown = rfm_breakdown_empty()
    totals, grid = breakdown.segments, breakdown.grid
    if run.as_of is None:
        empty = NEVER_RUN
    elif not run.scored:
        empty = NOTHING_SCORED.format(day=run.as_of)
    elif not breakdown.scored:
        empty = NONE_MATCH
    else:
        empty = ""
    charts = {
        "segments": _segment_chart(totals, state.filters, currency, empty),
        "grid": _grid_chart(grid, empty),
    }
    tiles = [{"total": t, "href": _accounts_link(state.filters, t.key)} for t in totals]
    return dashboard_response(
        request,
        state,
        tab="rfm",
        title="RFM",
        body="metrics/rfm_body.html",
        charts=charts,
        context={
            "run": run,
            "empty": empty,
            "tiles": tiles,
            "basis": basis,
            "basis_switch": switch,
            "currency": currency,
        },
    )
