"""The health dashboard: figures computed by hand from a handful of accounts with known
snapshots and revenue on known days; the period in the URL; who may see it; escaping; and a
query count that does not grow with the book."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Account, ExchangeRate
from customers.services import revenue_change_record
from health.dashboard import band_history, dashboard_today
from health.models import HealthSnapshot, Source
from health.selectors import health_fell
from tests.customers.factories import SCRIPT, make_account

pytestmark = pytest.mark.django_db

URL = "/health/"
SCORES = {"red": 30, "yellow": 60, "green": 90}
D = Decimal


def at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def snap(account: Account, day: dt.date, band: str, source: str = Source.COMPUTED) -> None:
    HealthSnapshot.objects.create(
        account=account, day=day, band=band, score=SCORES[band], source=source
    )


def pay(account: Account, day: dt.date, mrr: str, hour: int = 10) -> None:
    revenue_change_record(account=account, mrr=D(mrr), effective_at=at(day, hour))


def mark_today(account: Account) -> None:
    """What the recompute does after writing today's snapshot: copy the band onto the row."""
    todays = HealthSnapshot.objects.filter(account=account, day=timezone.localdate()).first()
    Account.objects.filter(pk=account.pk).update(
        health_band=todays.band if todays else "", health_score=todays.score if todays else None
    )


@pytest.fixture
def book() -> dict[str, Account]:
    """Seven accounts; T is today. Snapshots on T-10, T-7, T-5, T-1 and T (none between).

    A  USD 100 from T-20; 200 at T-5 09:00, then 250.50 at T-5 15:00.  green green yellow red red
    B  EUR 45 (= USD 50 at 0.9 EUR per USD) from T-60.                   green yellow green green green
    C  USD 80 from T-30, cancelled T-3.                                  green green red red* red*
    D  never paid (a trial).                                             yellow yellow yellow red red
    E  USD 60 from T-30, cancelled T-9, back at 70 from T-4.             red on all five days
    F  USD 30 from T-30, never scored.
    G  USD 40 from T-30, scored on T-7 and T only.                       yellow, yellow
    (* frozen: C churned)
    """
    t = timezone.localdate()
    ExchangeRate.objects.create(currency="EUR", per_base=D("0.9"), valid_from=t - dt.timedelta(400))
    days = [t - dt.timedelta(days=n) for n in (10, 7, 5, 1, 0)]
    accounts = {
        key: make_account(name=f"{key} Co", currency="EUR" if key == "B" else "USD")
        for key in "ABCDEFG"
    }
    a, b, c, d, e, f, g = accounts.values()
    pay(a, t - dt.timedelta(20), "100")
    pay(a, t - dt.timedelta(5), "200", hour=9)
    pay(a, t - dt.timedelta(5), "250.50", hour=15)
    pay(b, t - dt.timedelta(60), "45")
    pay(c, t - dt.timedelta(30), "80")
    pay(c, t - dt.timedelta(3), "0")
    pay(e, t - dt.timedelta(30), "60")
    pay(e, t - dt.timedelta(9), "0")
    pay(e, t - dt.timedelta(4), "70")
    pay(f, t - dt.timedelta(30), "30")
    pay(g, t - dt.timedelta(30), "40")
    bands = {
        a: ["green", "green", "yellow", "red", "red"],
        b: ["green", "yellow", "green", "green", "green"],
        c: ["green", "green", "red", "red", "red"],
        d: ["yellow", "yellow", "yellow", "red", "red"],
        e: ["red"] * 5,
    }
    for account, row in bands.items():
        for day, band in zip(days, row, strict=True):
            frozen = account == c and day > t - dt.timedelta(3)
            snap(account, day, band, Source.FROZEN if frozen else Source.COMPUTED)
    snap(g, t - dt.timedelta(7), "yellow")
    snap(g, t, "yellow")
    for account in accounts.values():
        mark_today(account)
    return accounts


def test_the_book_is_what_the_figures_are_computed_from(book):
    """The fixture's revenue is what its docstring says (so the figures below rest on it)."""
    rows = {a.name: a for a in Account.objects.all()}
    assert rows["A Co"].mrr_base == D("250.50")
    assert rows["B Co"].mrr == D("45.00") and rows["B Co"].mrr_base == D("50.00")
    assert rows["C Co"].churned_at is not None and rows["C Co"].mrr_base == 0
    assert rows["E Co"].churned_at is None and rows["E Co"].mrr_base == D("70.00")


def test_today_counts_live_accounts_and_their_mrr_per_band(book, csm_user):
    today = dashboard_today(user=csm_user)
    figures = {b.band: (b.accounts, b.paying, b.mrr) for b in today.bands}
    # C is churned (red, frozen): left out. A, D and E are red; D pays nothing.
    assert figures == {
        "red": (3, 2, D("320.50")),
        "yellow": (1, 1, D("40.00")),
        "green": (1, 1, D("50.00")),
        "none": (1, 1, D("30.00")),
    }
    assert today.at_risk_mrr == D("320.50")
    assert today.watch_mrr == D("40.00")
    assert (today.accounts, today.mrr) == (6, D("440.50"))
    assert today.currency == "USD"
    assert isinstance(today.at_risk_mrr, Decimal)


def test_the_accounts_whose_band_fell_this_week(book, csm_user):
    count, listed = health_fell(accounts=Account.objects.visible_to(csm_user), by="mrr")
    # A green → red and D yellow → red. B rose, E and G stayed, F has no snapshots, and C
    # fell but has churned.
    assert count == 2
    assert [(s.account.name, s.band_before, s.band) for s in listed] == [
        ("A Co", "green", "red"),
        ("D Co", "yellow", "red"),
    ]
    count, listed = health_fell(accounts=Account.objects.visible_to(csm_user), by="mrr", limit=1)
    assert count == 2 and [s.account.name for s in listed] == ["A Co"]


def test_mrr_and_accounts_per_band_per_day_use_that_days_mrr(book, csm_user):
    t = timezone.localdate()
    history = band_history(user=csm_user, days=30)
    assert len(history.days) == 30
    assert history.days[0] == t - dt.timedelta(29) and history.days[-1] == t

    def on(days_ago: int) -> dict[str, tuple[int, Decimal]]:
        i = history.days.index(t - dt.timedelta(days_ago))
        return {band: (history.accounts[band][i], history.mrr[band][i]) for band in history.mrr}

    # T-10: A 100 and B 50 and C 80 green; D yellow (no MRR); E red at 60.
    assert on(10) == {
        "red": (1, D("60.00")),
        "yellow": (1, D("0.00")),
        "green": (3, D("230.00")),
    }
    # T-7: E churned on T-9, so it is left out; B and G are yellow.
    assert on(7) == {
        "red": (0, D("0.00")),
        "yellow": (3, D("90.00")),
        "green": (2, D("180.00")),
    }
    # T-5: A's day ended at 250.50 (the later of two changes); C still paid 80; E still out.
    assert on(5) == {
        "red": (1, D("80.00")),
        "yellow": (2, D("250.50")),
        "green": (1, D("50.00")),
    }
    # T-1 and T: C churned (frozen snapshots left out), E back at 70.
    assert on(1) == {
        "red": (3, D("320.50")),
        "yellow": (0, D("0.00")),
        "green": (1, D("50.00")),
    }
    assert on(0) == {
        "red": (3, D("320.50")),
        "yellow": (1, D("40.00")),
        "green": (1, D("50.00")),
    }
    # A day without snapshots is zero, not missing.
    assert on(2) == {band: (0, D("0.00")) for band in ("red", "yellow", "green")}
    assert all(isinstance(v, Decimal) for series in history.mrr.values() for v in series)


def test_the_history_leaves_out_days_before_the_period_and_changes_not_yet_effective(
    book, csm_user
):
    t = timezone.localdate()
    a = book["A"]
    # A change later today is not in force yet: today's point keeps the MRR in force now.
    pay(a, t, "999", hour=23)
    now = at(t, 12)
    history = band_history(user=csm_user, days=7, now=now)
    assert len(history.days) == 7 and history.days[0] == t - dt.timedelta(6)
    assert history.mrr["red"][-1] == D("320.50")
    # T-6 … T: B is green on T-5, T-1 and T; T-10 and T-7 lie outside the period.
    assert history.accounts["green"] == [0, 1, 0, 0, 0, 1, 1]


def test_the_page_shows_todays_figures_with_links_to_the_portfolio(book, csm_client):
    response = csm_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'data-kpi="at-risk-mrr">320\.50<', html)
    assert re.search(r'data-kpi="yellow-mrr">40\.00<', html)
    assert re.search(r'data-kpi="fell">2<', html)
    assert "At-risk MRR, red accounts (USD)" in html
    at_risk = "/customers/?owner=all&amp;health=red&amp;mrr_min=0.01&amp;sort=-mrr"
    assert f'href="{at_risk}" data-link="at-risk"' in html
    assert 'href="/customers/?owner=all&amp;health=none"' in html
    # The portfolio the at-risk link opens lists exactly the accounts the figure adds up.
    listed = csm_client.get(at_risk.replace("&amp;", "&"))
    names = re.findall(r">([A-G]) Co</a>", listed.content.decode())
    assert names == ["A", "E"]  # largest MRR first; D pays nothing, C has churned


def test_the_page_draws_both_charts_over_the_default_period(book, csm_client):
    html = csm_client.get(URL).content.decode()
    for spec in ("accounts-by-band-spec", "mrr-by-band-spec"):
        match = re.search(rf'<script id="{spec}" type="application/json">(.*?)</script>', html)
        figure = json.loads(match.group(1))
        assert [trace["name"] for trace in figure["data"]] == ["Red", "Yellow", "Green"]
        assert all(len(trace["x"]) == 90 for trace in figure["data"])
    mrr = json.loads(
        re.search(
            r'<script id="mrr-by-band-spec" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert mrr["data"][0]["y"][-1] == 320.5
    assert 'data-period="90" aria-current="page"' in html


@pytest.mark.parametrize("days", [30, 180, 365])
def test_the_period_comes_from_the_url(book, csm_client, days):
    response = csm_client.get(URL, {"days": days})
    assert response.status_code == 200
    assert response.context["history"].days[-1] == timezone.localdate()
    assert len(response.context["history"].days) == days
    assert f'data-period="{days}" aria-current="page"' in response.content.decode()


@pytest.mark.parametrize("days", ["7", "abc", "-90", "90.0", "٣٠", "1" * 400])
def test_a_bad_period_gets_a_message_not_an_error(csm_client, days):
    response = csm_client.get(URL, {"days": days})
    assert response.status_code == 400
    assert "Choose a period of 30, 90, 180 or 365 days." in response.content.decode()
    assert "history" not in response.context


def test_htmx_gets_only_the_periods_charts(book, csm_client):
    response = csm_client.get(URL, {"days": "30"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="panel" id="health-history"')
    assert "<h1>" not in html and "data-kpi" not in html
    spec = re.search(r'id="mrr-by-band-spec" type="application/json">(.*?)</script>', html)
    assert len(json.loads(spec.group(1))["data"][0]["x"]) == 30
    bad = csm_client.get(URL, {"days": "8"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400 and "Choose a period" in bad.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith("/auth/login/")


def test_a_viewer_reads_the_dashboard_and_the_nav_links_it(book, viewer_client):
    html = viewer_client.get(URL).content.decode()
    assert re.search(r'data-kpi="at-risk-mrr">320\.50<', html)
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    links = re.findall(r'<a href="([^"]+)"[^>]*>(\w+)</a>', nav)
    names = [name for _href, name in links]
    assert names.index("Health") == names.index("Alerts") - 1
    assert ("/health/", "Health") in links
    assert 'href="/health/" aria-current="page">Health' in nav


def test_account_names_are_escaped(csm_client, csm_user):
    t = timezone.localdate()
    account = make_account(name=SCRIPT)
    snap(account, t - dt.timedelta(7), "green")
    snap(account, t, "red")
    mark_today(account)
    html = csm_client.get(URL).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _seed(count: int) -> None:
    t = timezone.localdate()
    for n in range(count):
        account = make_account(name=f"Seeded {n}")
        pay(account, t - dt.timedelta(40), str(10 + n))
        snap(account, t - dt.timedelta(7), "green")
        snap(account, t - dt.timedelta(3), "yellow")
        snap(account, t, "red")
        mark_today(account)


def test_the_number_of_queries_does_not_grow_with_the_book(csm_client):
    _seed(5)
    with CaptureQueriesContext(connection) as small:
        assert csm_client.get(URL, {"days": "365"}).status_code == 200
    _seed(25)
    with CaptureQueriesContext(connection) as large:
        response = csm_client.get(URL, {"days": "365"})
    assert response.context["fell_count"] == 30
    assert response.context["today"].band("red").accounts == 30
    assert len(large) == len(small)
    assert len(large) <= 10
