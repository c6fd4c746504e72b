"""The portfolio page: filters, sorting, pagination, htmx partials, bad input and escaping."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from customers.models import Account, LifecycleStage
from tests.customers.factories import SCRIPT, make_account, make_accounts, make_ticket

pytestmark = pytest.mark.django_db

URL = "/customers/"
HTMX = {"HX-Request": "true"}


def names(response) -> list[str]:
    """Account names in table order, as the page shows them."""
    return [a.name for a in response.context["page"].object_list]


@pytest.fixture
def other_csm(make_user):
    return make_user(Role.CSM, "other@example.com", "Olga Other")


# --- owner ---------------------------------------------------------------------------------


def test_a_csm_sees_their_own_book_by_default(csm_client, csm_user, other_csm):
    make_account(name="Mine", owner=csm_user)
    make_account(name="Theirs", owner=other_csm)
    make_account(name="Nobody's")
    response = csm_client.get(URL)
    assert response.status_code == 200
    assert names(response) == ["Mine"]
    assert re.search(r'<option value="me" selected>Mine</option>', response.text)


def test_a_csm_can_switch_to_everyones_accounts(csm_client, csm_user, other_csm):
    make_account(name="Mine", owner=csm_user)
    make_account(name="Theirs", owner=other_csm)
    assert names(csm_client.get(URL, {"owner": "all"})) == ["Mine", "Theirs"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
def test_admins_and_viewers_see_the_whole_book_by_default(client, make_user, other_csm, role):
    make_account(name="Theirs", owner=other_csm)
    make_account(name="Nobody's")
    client.force_login(make_user(role))
    response = client.get(URL)
    assert names(response) == ["Nobody's", "Theirs"]
    assert re.search(r'<option value="all" selected>Everyone</option>', response.text)


def test_the_owner_filter_picks_one_csm_or_the_unassigned(csm_client, csm_user, other_csm):
    make_account(name="Mine", owner=csm_user)
    make_account(name="Theirs", owner=other_csm)
    make_account(name="Nobody's")
    assert names(csm_client.get(URL, {"owner": other_csm.pk})) == ["Theirs"]
    assert names(csm_client.get(URL, {"owner": "none"})) == ["Nobody's"]


# --- the other filters -----------------------------------------------------------------------


def test_the_plan_filter_keeps_one_plan(csm_client):
    make_account(name="A", plan="Pro")
    make_account(name="B", plan="Starter")
    response = csm_client.get(URL, {"owner": "all", "plan": "Pro"})
    assert names(response) == ["A"]
    assert '<option value="Starter">Starter</option>' in response.text


def test_the_stage_filter_keeps_one_stage(csm_client):
    make_account(name="A", stage=LifecycleStage.RENEWAL)
    make_account(name="B", stage=LifecycleStage.ONBOARDING)
    assert names(csm_client.get(URL, {"owner": "all", "stage": "renewal"})) == ["A"]


def test_the_renewal_window_counts_days_from_today_inclusive(csm_client):
    today = timezone.localdate()
    make_account(name="Today", renewal_date=today)
    make_account(name="Day 30", renewal_date=today + dt.timedelta(days=30))
    make_account(name="Day 31", renewal_date=today + dt.timedelta(days=31))
    make_account(name="Yesterday", renewal_date=today - dt.timedelta(days=1))
    make_account(name="No date")
    assert names(csm_client.get(URL, {"owner": "all", "renewal": "30"})) == ["Day 30", "Today"]


def test_an_unusual_renewal_window_is_accepted_and_shown_selected(csm_client):
    make_account(name="Soon", renewal_date=timezone.localdate() + dt.timedelta(days=40))
    response = csm_client.get(URL, {"owner": "all", "renewal": "45"})
    assert names(response) == ["Soon"]
    assert '<option value="45" selected>45 days</option>' in response.text


def test_the_mrr_range_is_inclusive_and_in_the_base_currency(csm_client):
    make_account(name="Small", mrr="99.99")
    make_account(name="Edge low", mrr="100")
    make_account(name="Euro", mrr="100", currency="EUR", mrr_base=Decimal("110"))
    make_account(name="Edge high", mrr="200")
    make_account(name="Big", mrr="200.01")
    response = csm_client.get(URL, {"owner": "all", "mrr_min": "100", "mrr_max": "200"})
    assert names(response) == ["Edge high", "Edge low", "Euro"]
    assert names(csm_client.get(URL, {"owner": "all", "mrr_min": "105"})) == [
        "Big",
        "Edge high",
        "Euro",
    ]


def test_search_matches_name_or_domain_ignoring_case(csm_client):
    make_account(name="Acme Rockets", domain="acme.io")
    make_account(name="Globex", domain="globex-acme.com")
    make_account(name="Initech", domain="initech.com")
    assert names(csm_client.get(URL, {"owner": "all", "q": "ACME"})) == ["Acme Rockets", "Globex"]


def test_filters_combine(csm_client, csm_user):
    make_account(name="Hit", owner=csm_user, plan="Pro", stage="renewal", mrr="500")
    make_account(name="Wrong plan", owner=csm_user, plan="Starter", stage="renewal", mrr="500")
    make_account(name="Too small", owner=csm_user, plan="Pro", stage="renewal", mrr="5")
    make_account(name="Not mine", plan="Pro", stage="renewal", mrr="500")
    response = csm_client.get(URL, {"plan": "Pro", "stage": "renewal", "mrr_min": "100"})
    assert names(response) == ["Hit"]


# --- sorting -------------------------------------------------------------------------------


@pytest.fixture
def sortable():
    now = timezone.now()
    today = timezone.localdate()
    make_account(
        name="Bravo", mrr="300", stage="renewal", renewal_date=today + dt.timedelta(days=5)
    )
    make_account(
        name="Alpha",
        mrr="100",
        stage="onboarding",
        renewal_date=today + dt.timedelta(days=50),
        last_activity_at=now - dt.timedelta(days=3),
    )
    make_account(name="Charlie", mrr="200", stage="awareness", last_activity_at=now)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["Alpha", "Bravo", "Charlie"]),
        ("-name", ["Charlie", "Bravo", "Alpha"]),
        ("mrr", ["Alpha", "Charlie", "Bravo"]),
        ("-mrr", ["Bravo", "Charlie", "Alpha"]),
        # Stages sort in lifecycle order, not alphabetically.
        ("stage", ["Charlie", "Alpha", "Bravo"]),
        ("-stage", ["Bravo", "Alpha", "Charlie"]),
        # Accounts without a date come last whichever way.
        ("renewal", ["Bravo", "Alpha", "Charlie"]),
        ("-renewal", ["Alpha", "Bravo", "Charlie"]),
        ("activity", ["Alpha", "Charlie", "Bravo"]),
        ("-activity", ["Charlie", "Alpha", "Bravo"]),
    ],
)
def test_it_sorts_by_each_whitelisted_column(csm_client, sortable, sort, expected):
    response = csm_client.get(URL, {"owner": "all", "sort": sort})
    assert response.status_code == 200
    assert names(response) == expected


def test_clicking_the_sorted_column_reverses_it_and_keeps_the_filters(csm_client, sortable):
    response = csm_client.get(URL, {"owner": "all", "plan": "", "sort": "mrr", "page": "1"})
    columns = response.context["columns"]
    assert columns["mrr"]["href"] == "/customers/?owner=all&sort=-mrr"
    assert columns["mrr"]["aria_sort"] == "ascending"
    # MRR and activity start with the biggest / the latest first.
    assert columns["activity"]["href"] == "/customers/?owner=all&sort=-activity"
    assert columns["name"]["href"] == "/customers/?owner=all"
    assert 'aria-sort="ascending"><a href="/customers/?owner=all&amp;sort=-mrr"' in response.text


@pytest.mark.parametrize("sort", ["password", "owner__password", "-id", "name;drop"])
def test_a_sort_outside_the_whitelist_is_refused_with_a_message(csm_client, sort):
    make_account(name="Acme")
    response = csm_client.get(URL, {"sort": sort})
    assert response.status_code == 400
    assert "Sort: Select a valid choice." in response.text
    assert "page" not in response.context


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"renewal": "soon"}, "Renewal within: Enter a whole number."),
        ({"renewal": "0"}, "Renewal within: Ensure this value is greater than or equal to 1."),
        ({"mrr_min": "lots"}, "MRR from (USD): Enter a number."),
        ({"mrr_min": "-5"}, "MRR from (USD): Ensure this value is greater than or equal to 0."),
        ({"mrr_min": "200", "mrr_max": "100"}, "MRR to (USD): MRR to must be at least MRR from."),
        ({"owner": "99999"}, "Owner: Select a valid choice. 99999 is not one of"),
        ({"stage": "won"}, "Stage: Select a valid choice. won is not one of"),
        ({"plan": "Platinum"}, "Plan: Select a valid choice. Platinum is not one of"),
        ({"page": "two"}, "Page: Enter a whole number."),
        ({"page": "0"}, "Page: Ensure this value is greater than or equal to 1."),
        ({"q": "x" * 101}, "Search: Ensure this value has at most 100 characters"),
    ],
)
def test_bad_filter_values_get_a_message_naming_the_field(csm_client, params, message):
    response = csm_client.get(URL, params)
    assert response.status_code == 400
    assert message in response.text
    assert 'href="/customers/">Reset the filters</a>' in response.text


def test_a_bad_value_is_shown_escaped(csm_client):
    response = csm_client.get(URL, {"stage": SCRIPT})
    assert response.status_code == 400
    assert SCRIPT not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is not one of" in response.text


# --- pagination ----------------------------------------------------------------------------


def test_it_pages_fifty_accounts_at_a_time_keeping_the_filters(csm_client):
    make_accounts(120, plan="Pro")
    response = csm_client.get(URL, {"owner": "all", "plan": "Pro"})
    page = response.context["page"]
    assert (len(page.object_list), page.paginator.count, page.paginator.num_pages) == (50, 120, 3)
    assert "Page 1 of 3" in response.text
    assert response.context["pages"]["next"] == "/customers/?owner=all&plan=Pro&page=2"
    last = csm_client.get(URL, {"owner": "all", "plan": "Pro", "page": "3"})
    assert len(last.context["page"].object_list) == 20
    assert last.context["pages"]["previous"] == "/customers/?owner=all&plan=Pro&page=2"
    assert last.context["pages"]["first"] == "/customers/?owner=all&plan=Pro"


def test_pages_do_not_repeat_or_skip_accounts_with_equal_sort_values(csm_client):
    make_accounts(120, mrr=Decimal("10"), mrr_base=Decimal("10"))
    seen = []
    for number in (1, 2, 3):
        seen += names(csm_client.get(URL, {"owner": "all", "sort": "-mrr", "page": number}))
    assert len(seen) == len(set(seen)) == 120


def test_a_page_past_the_end_shows_the_last_page(csm_client):
    make_accounts(60)
    response = csm_client.get(URL, {"owner": "all", "page": "99"})
    assert response.status_code == 200
    assert response.context["page"].number == 2


# --- htmx ----------------------------------------------------------------------------------


def test_htmx_gets_only_the_results_and_the_tidy_url_to_push(csm_client):
    make_account(name="Acme", plan="Pro")
    response = csm_client.get(
        URL, {"q": "", "owner": "all", "plan": "Pro", "stage": "", "sort": "name"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="portfolio-results"')
    assert ">Acme</a>" in response.text
    assert response["HX-Push-Url"] == "/customers/?owner=all&plan=Pro"
    assert "HX-Request" in response["Vary"]


def test_a_full_request_gets_the_whole_page_with_filters_and_results(csm_client):
    make_account(name="Acme")
    response = csm_client.get(URL, {"owner": "all"})
    assert "<html" in response.text
    assert 'id="portfolio-filters"' in response.text
    assert 'id="portfolio-results"' in response.text
    assert 'hx-push-url="true"' in response.text
    assert "HX-Push-Url" not in response


def test_a_history_restore_gets_the_whole_page(csm_client):
    """Back button: htmx asks for the page again and must get the controls too."""
    response = csm_client.get(
        URL, {"owner": "all"}, headers=HTMX | {"HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.text
    assert 'id="portfolio-filters"' in response.text


def test_htmx_with_a_bad_value_gets_the_message_in_the_results_area(csm_client):
    response = csm_client.get(URL, {"mrr_min": "abc"}, headers=HTMX)
    assert response.status_code == 400
    assert response.text.lstrip().startswith('<div id="portfolio-results"')
    assert "MRR from (USD): Enter a number." in response.text


def test_the_sort_travels_with_the_filter_form(csm_client):
    response = csm_client.get(URL, {"owner": "all", "sort": "-mrr"}, headers=HTMX)
    assert (
        '<input type="hidden" name="sort" value="-mrr" form="portfolio-filters">' in response.text
    )


# --- links, escaping, queries --------------------------------------------------------------


def test_each_row_links_to_the_account_page(csm_client):
    account = make_account(name="Acme", owner=None)
    response = csm_client.get(URL, {"owner": "all"})
    assert f'href="/customers/{account.pk}/">Acme</a>' in response.text


def test_names_domains_plans_and_owners_are_escaped(client, make_user):
    owner = make_user(Role.CSM, full_name=SCRIPT)
    make_account(name=SCRIPT, domain=SCRIPT, plan=SCRIPT, owner=owner)
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 1
    assert SCRIPT not in response.text
    assert response.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_the_page_shows_mrr_with_its_currency_and_open_tickets(csm_client):
    account = make_account(name="Acme", mrr="1234.5", currency="EUR", mrr_base=Decimal("1300"))
    make_ticket(account)
    make_ticket(account)
    make_ticket(account, status="closed", closed_at=timezone.now())
    response = csm_client.get(URL, {"owner": "all"})
    assert '<td class="num">1,234.50 EUR</td>' in response.text
    assert response.context["page"].object_list[0].open_tickets == 2


def test_the_portfolio_reads_a_bounded_number_of_queries(
    csm_client, csm_user, other_csm, django_assert_max_num_queries
):
    accounts = make_accounts(80, owner=csm_user, plan="Pro") + make_accounts(80, owner=other_csm)
    for account in accounts[::10]:
        make_ticket(account)
    # session, user, groups, plans, owners, count, rows (+ savepoints in tests)
    with django_assert_max_num_queries(9):
        response = csm_client.get(URL, {"owner": "all", "sort": "stage"})
    assert len(response.context["page"].object_list) == 50
    with django_assert_max_num_queries(9):
        csm_client.get(URL, {"plan": "Pro", "q": "bulk", "sort": "-activity"}, headers=HTMX)


def _scored(name: str, score: int | None, band: str = "") -> None:
    account = make_account(name=name)
    Account.objects.filter(pk=account.pk).update(health_score=score, health_band=band)


def test_the_health_filter_keeps_one_band_or_the_accounts_not_scored_yet(csm_client):
    _scored("Red", 30, "red")
    _scored("Yellow", 60, "yellow")
    _scored("Green", 90, "green")
    _scored("New", None)

    assert names(csm_client.get(URL, {"owner": "all", "health": "red"})) == ["Red"]
    assert names(csm_client.get(URL, {"owner": "all", "health": "green"})) == ["Green"]
    assert names(csm_client.get(URL, {"owner": "all", "health": "none"})) == ["New"]


def test_sorting_by_health_puts_the_riskiest_first_and_the_unscored_last(csm_client):
    _scored("Sixty", 60, "yellow")
    _scored("Unscored", None)
    _scored("Thirty", 30, "red")
    _scored("Ninety", 90, "green")

    assert names(csm_client.get(URL, {"owner": "all", "sort": "health"})) == [
        "Thirty",
        "Sixty",
        "Ninety",
        "Unscored",
    ]
    assert names(csm_client.get(URL, {"owner": "all", "sort": "-health"})) == [
        "Ninety",
        "Sixty",
        "Thirty",
        "Unscored",
    ]


def test_an_unknown_health_band_is_refused_with_a_message_not_a_500(csm_client):
    response = csm_client.get(URL, {"owner": "all", "health": "<b>purple</b>"})

    assert response.status_code == 400
    assert "<b>purple</b>" not in response.text
