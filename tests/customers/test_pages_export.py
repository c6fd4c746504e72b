"""CSV export of the portfolio as filtered: content, filters, formula injection."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from accounts.roles import Role
from tests.customers.factories import make_account, make_accounts, make_ticket

pytestmark = pytest.mark.django_db

URL = "/customers/export.csv"


def read_csv(response) -> list[dict[str, str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_every_column_of_the_filtered_accounts(csm_client, csm_user):
    renewal = timezone.localdate() + dt.timedelta(days=20)
    seen = timezone.now().replace(microsecond=0)
    account = make_account(
        external_id="ext-1",
        name="Acme, Inc.",
        domain="acme.io",
        plan="Pro",
        stage="renewal",
        owner=csm_user,
        mrr="1234.50",
        renewal_date=renewal,
        last_activity_at=seen,
    )
    make_ticket(account)
    make_account(name="Not mine", plan="Pro")
    response = csm_client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="portfolio-')
    assert read_csv(response) == [
        {
            "external_id": "ext-1",
            "name": "Acme, Inc.",
            "domain": "acme.io",
            "plan": "Pro",
            "stage": "renewal",
            "owner_email": "csm@example.com",
            "mrr": "1234.50",
            "currency": "USD",
            "mrr_base": "1234.50",
            "renewal_date": renewal.isoformat(),
            "last_activity_at": seen.isoformat(),
            "open_tickets": "1",
            "health_score": "",
            "health_band": "",
        }
    ]


def test_the_export_applies_the_same_filters_and_sort_as_the_page(csm_client):
    make_account(name="Big Pro", plan="Pro", mrr="900")
    make_account(name="Small Pro", plan="Pro", mrr="50")
    make_account(name="Mid Pro", plan="Pro", mrr="400")
    make_account(name="Starter", plan="Starter", mrr="900")
    rows = read_csv(csm_client.get(URL, {"owner": "all", "plan": "Pro", "sort": "-mrr"}))
    assert [row["name"] for row in rows] == ["Big Pro", "Mid Pro", "Small Pro"]
    rows = read_csv(csm_client.get(URL, {"owner": "all", "mrr_min": "100", "q": "pro"}))
    assert [row["name"] for row in rows] == ["Big Pro", "Mid Pro"]


def test_the_page_links_to_the_export_with_its_filters(csm_client):
    make_account(name="Acme")
    response = csm_client.get("/customers/", {"owner": "all", "stage": "renewal", "page": "1"})
    assert response.context["export_url"] == "/customers/export.csv?owner=all&stage=renewal"
    assert 'href="/customers/export.csv?owner=all&amp;stage=renewal"' in response.text


@pytest.mark.parametrize(
    "dangerous",
    [
        '=HYPERLINK("http://evil")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        ' =HYPERLINK("http://evil")',  # spaces hide the sign from a startswith check
    ],
)
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(csm_client, dangerous):
    make_account(name=dangerous, domain=dangerous, plan=dangerous)
    row = read_csv(csm_client.get(URL, {"owner": "all"}))[0]
    assert row["name"] == row["domain"] == row["plan"] == "'" + dangerous


def test_harmless_cells_are_left_alone(csm_client):
    make_account(name="Acme = Good", domain="a-b.io", plan="Pro+")
    row = read_csv(csm_client.get(URL, {"owner": "all"}))[0]
    assert (row["name"], row["domain"], row["plan"]) == ("Acme = Good", "a-b.io", "Pro+")


def test_a_bad_filter_is_refused_with_a_message_not_an_empty_file(csm_client):
    response = csm_client.get(URL, {"sort": "password"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Sort: Select a valid choice." in response.content.decode()


def test_viewers_may_export_because_it_only_reads(client, make_user):
    make_account(name="Acme")
    client.force_login(make_user(Role.VIEWER))
    assert [row["name"] for row in read_csv(client.get(URL))] == ["Acme"]


def test_the_export_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/auth/login/" in response["Location"]


def test_the_export_reads_a_bounded_number_of_queries(csm_client, django_assert_max_num_queries):
    make_accounts(300)
    with django_assert_max_num_queries(8):
        rows = read_csv(csm_client.get(URL, {"owner": "all"}))
    assert len(rows) == 300
