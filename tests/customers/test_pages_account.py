"""Account 360: header, htmx sections, timeline, charts, notes and stage changes, with their
permissions, CSRF, escaping and query counts."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from customers.models import Account, ExchangeRate, Note, StageChange
from customers.services import account_change_stage, note_create, revenue_change_record
from customers.timeline import sources, timeline_for
from tests.customers.factories import SCRIPT, add_usage, make_account, make_contact, make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def account(csm_user):
    ExchangeRate.objects.create(
        currency="EUR", per_base=Decimal("0.9"), valid_from=dt.date(2000, 1, 1)
    )
    return make_account(
        name="Acme Rockets",
        domain="acme.io",
        plan="Pro",
        owner=csm_user,
        currency="EUR",
        mrr="1234.5",
        mrr_base=Decimal("1350.00"),
        stage="onboarding",
        renewal_date=dt.date(2031, 3, 1),
        traits={"industry": "Aerospace", "seats": 40},
    )


def url(account, section: str = "") -> str:
    return f"/customers/{account.pk}/{section + '/' if section else ''}"


def json_script(text: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', text)
    assert match, f"no {element_id} in the response"
    return json.loads(match.group(1))


# --- the page ------------------------------------------------------------------------------


def test_the_header_shows_the_account_at_a_glance(csm_client, account):
    response = csm_client.get(url(account))
    assert response.status_code == 200
    text = response.text
    assert '<h1 id="account-name">Acme Rockets</h1>' in text
    assert '<dd data-field="plan">Pro</dd>' in text
    assert "1,234.50 EUR" in text and "≈ 1,350.00 USD" in text
    assert '<span class="badge stage-onboarding">Onboarding</span>' in text
    assert '<dd data-field="owner">Casey Success</dd>' in text
    assert '<time datetime="2031-03-01">2031-03-01</time>' in text
    assert "<dt>industry</dt><dd>Aerospace</dd>" in text
    assert "<dt>seats</dt><dd>40</dd>" in text


def test_the_header_shows_the_health_score_once_there_is_one(csm_client, account):
    text = csm_client.get(url(account)).text
    assert re.search(r'data-slot="health">.*not scored yet', text)
    assert re.search(r'data-slot="loyalty">.*Not a member yet', text)

    Account.objects.filter(pk=account.pk).update(health_score=42, health_band="red")

    text = csm_client.get(url(account)).text
    assert re.search(r'data-slot="health">.*<span class="badge health-red">42 red</span>', text)


@pytest.mark.parametrize("section", ["timeline", "revenue", "usage", "contacts"])
def test_each_section_loads_with_htmx_and_keeps_a_real_link(csm_client, account, section):
    text = csm_client.get(url(account)).text
    link = url(account, section)
    assert f'hx-get="{link}"' in text
    assert f'<a href="{link}">' in text


@pytest.mark.parametrize(
    ("section", "title"),
    [
        ("timeline", "Timeline"),
        ("revenue", "Revenue"),
        ("usage", "Usage"),
        ("contacts", "Contacts"),
    ],
)
def test_a_section_opened_without_htmx_is_a_whole_page(csm_client, account, section, title):
    response = csm_client.get(url(account, section))
    assert response.status_code == 200
    assert "<html" in response.text
    assert f"<h1>{title}</h1>" in response.text
    assert f'href="{url(account)}">Acme Rockets</a>' in response.text


def test_a_section_asked_by_htmx_is_only_the_fragment(csm_client, account):
    response = csm_client.get(url(account, "timeline"), headers=HTMX)
    assert "<html" not in response.text
    assert "HX-Request" in response["Vary"]


def test_an_unknown_account_is_a_404(csm_client):
    assert csm_client.get("/customers/999999/").status_code == 404
    assert csm_client.get("/customers/999999/timeline/").status_code == 404


def test_the_page_loads_plotly_from_our_own_static_files(csm_client, account):
    text = csm_client.get(url(account)).text
    assert '<script src="/static/vendor/plotly.min.js"></script>' in text
    assert '<script src="/static/customers/charts.js"></script>' in text


# --- timeline ------------------------------------------------------------------------------


def test_customers_registers_its_timeline_sources_on_start(account):
    assert {
        "customers.usage",
        "customers.tickets",
        "customers.stage_changes",
        "customers.notes",
        "customers.revenue",
    } <= set(sources())


def test_the_timeline_merges_every_source_newest_first(csm_user, account):
    now = timezone.now()
    today = timezone.localdate()
    add_usage(account, today - dt.timedelta(days=3), login=30, feature_used=7)
    make_ticket(
        account,
        subject="Export broken",
        priority="high",
        opened_at=now - dt.timedelta(days=2),
        status="closed",
        closed_at=now - dt.timedelta(days=1, hours=12),
    )
    account_change_stage(
        account=account, to_stage="renewal", actor=csm_user, at=now - dt.timedelta(days=1)
    )
    revenue_change_record(
        account=account, mrr=Decimal("99"), effective_at=now - dt.timedelta(hours=5), plan="Pro"
    )
    note_create(account=account, author=csm_user, body="Called the CFO")
    items = timeline_for(account)
    assert [(item.kind, item.title) for item in items] == [
        ("note", "Note by Casey Success"),
        ("revenue", "Subscription started: MRR 99.00 EUR"),
        ("stage_change", "Stage: Onboarding → Renewal"),
        ("ticket_closed", "Ticket closed: Export broken"),
        ("ticket_opened", "Ticket opened: Export broken"),
        ("usage", "37 events"),
    ]
    assert items[0].body == "Called the CFO"
    assert items[2].body == "by Casey Success"
    assert items[4].body == "Priority high"
    assert items[5].body == "login 30, feature_used 7"


def test_usage_is_summarized_one_item_per_day(account):
    today = timezone.localdate()
    for days_ago in range(5):
        add_usage(account, today - dt.timedelta(days=days_ago), login=days_ago + 1, export=1)
    items = timeline_for(account, limit=3)
    assert [(item.title, item.body) for item in items] == [
        ("2 events", "export 1, login 1"),
        ("3 events", "login 2, export 1"),
        ("4 events", "login 3, export 1"),
    ]


def test_a_scheduled_revenue_change_says_so(account):
    revenue_change_record(
        account=account, mrr=Decimal("10"), effective_at=timezone.now() + dt.timedelta(days=9)
    )
    assert timeline_for(account)[0].title == "Subscription started: MRR 10.00 EUR (scheduled)"


def test_the_timeline_section_renders_items_with_dates(csm_client, csm_user, account):
    note_create(account=account, author=csm_user, body="line one\nline two")
    response = csm_client.get(url(account, "timeline"), headers=HTMX)
    assert '<li class="tl-note" data-kind="note">' in response.text
    assert "<strong>Note by Casey Success</strong>" in response.text
    assert "line one<br>line two" in response.text


def test_an_empty_timeline_says_so(csm_client, account):
    response = csm_client.get(url(account, "timeline"), headers=HTMX)
    assert "Nothing has happened on this account yet." in response.text


# --- contacts and charts -------------------------------------------------------------------


def test_contacts_are_listed_by_name(csm_client, account):
    make_contact(account, name="Zoe", email="zoe@acme.io", role="CFO", locale="nb")
    make_contact(account, name="Adam", email="adam@acme.io", do_not_survey=True)
    text = csm_client.get(url(account, "contacts"), headers=HTMX).text
    assert text.index("Adam") < text.index("Zoe")
    assert '<a href="mailto:zoe@acme.io">zoe@acme.io</a>' in text
    assert "Norsk bokmål" in text and "CFO" in text
    assert "no surveys" in text


def test_a_long_contact_list_says_how_many_are_hidden(csm_client, account):
    for i in range(103):
        make_contact(account, name=f"P{i:03d}")
    text = csm_client.get(url(account, "contacts"), headers=HTMX).text
    assert "Showing 100 of 103 contacts." in text


def test_the_revenue_chart_steps_through_the_recorded_mrr(csm_client, account):
    now = timezone.now()
    revenue_change_record(
        account=account, mrr=Decimal("100"), effective_at=now - dt.timedelta(days=60)
    )
    revenue_change_record(
        account=account, mrr=Decimal("250"), effective_at=now - dt.timedelta(days=20)
    )
    revenue_change_record(
        account=account, mrr=Decimal("999"), effective_at=now + dt.timedelta(days=5)
    )
    text = csm_client.get(url(account, "revenue"), headers=HTMX).text
    assert 'data-plotly-spec="revenue-spec"' in text
    trace = json_script(text, "revenue-spec")["data"][0]
    # The future change is not drawn; the current MRR is carried to today.
    assert trace["y"] == [100, 250, 250]
    assert trace["line"]["shape"] == "hv"
    assert trace["meta"] == "EUR"


def test_the_usage_chart_stacks_ninety_zero_filled_days_per_event_type(csm_client, account):
    today = timezone.localdate()
    add_usage(account, today, login=5, feature_used=2)
    add_usage(account, today - dt.timedelta(days=89), login=1)
    add_usage(account, today - dt.timedelta(days=90), login=1000)  # outside the window
    figure = json_script(csm_client.get(url(account, "usage"), headers=HTMX).text, "usage-spec")
    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert set(by_name) == {"login", "feature_used"}
    assert len(by_name["login"]["x"]) == 90
    assert by_name["login"]["x"][0] == (today - dt.timedelta(days=89)).isoformat()
    assert sum(by_name["login"]["y"]) == 6 and by_name["login"]["y"][-1] == 5
    assert by_name["feature_used"]["y"][-1] == 2
    assert figure["layout"]["barmode"] == "stack"


def test_rare_event_types_are_grouped_as_other(csm_client, account):
    today = timezone.localdate()
    add_usage(account, today, **{f"type_{i}": 10 - i for i in range(8)})
    figure = json_script(csm_client.get(url(account, "usage"), headers=HTMX).text, "usage-spec")
    names = [trace["name"] for trace in figure["data"]]
    assert names == [f"type_{i}" for i in range(6)] + ["other"]
    assert figure["data"][-1]["y"][-1] == 4 + 3  # type_6 and type_7


def test_charts_without_data_say_so(csm_client, account):
    assert "No revenue recorded yet." in csm_client.get(url(account, "revenue"), headers=HTMX).text
    assert (
        "No product usage in the last 90 days."
        in csm_client.get(url(account, "usage"), headers=HTMX).text
    )


# --- notes ---------------------------------------------------------------------------------


def test_a_csm_adds_a_note_and_the_timeline_is_told_to_reload(csm_client, csm_user, account):
    response = csm_client.post(
        url(account, "notes"), {"body": "  Renewal call booked  "}, headers=HTMX
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"timeline-changed": {}}
    assert 'id="note-form"' in response.text and "Note added." in response.text
    assert '<textarea name="body"' in response.text and "Renewal call booked" not in response.text
    note = Note.objects.get()
    assert (note.account, note.author, note.body) == (account, csm_user, "Renewal call booked")


def test_without_htmx_a_note_redirects_back_to_the_account(csm_client, account):
    response = csm_client.post(url(account, "notes"), {"body": "Hello"})
    assert response.status_code == 302
    assert response["Location"] == url(account)
    assert Note.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 10_001, "Ensure this value has at most 10000 characters"),
    ],
)
def test_a_bad_note_gets_a_message_and_nothing_is_written(csm_client, account, body, message):
    response = csm_client.post(url(account, "notes"), {"body": body}, headers=HTMX)
    assert response.status_code == 400
    assert message in response.text
    assert 'id="note-form"' in response.text
    assert Note.objects.count() == 0
    full = csm_client.post(url(account, "notes"), {"body": body})
    assert full.status_code == 400
    assert "<html" in full.text and message in full.text


def test_viewers_read_the_page_but_get_no_forms(viewer_client, account):
    response = viewer_client.get(url(account))
    assert response.status_code == 200
    assert 'id="note-form"' not in response.text
    assert "Change stage" not in response.text


def test_viewers_cannot_post_notes(viewer_client, account):
    response = viewer_client.post(url(account, "notes"), {"body": "sneaky"}, headers=HTMX)
    assert response.status_code == 403
    assert Note.objects.count() == 0


def test_a_note_needs_a_csrf_token(csm_user, account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    refused = client.post(url(account, "notes"), {"body": "forged"}, headers=HTMX)
    assert refused.status_code == 403
    assert Note.objects.count() == 0
    page = client.get(url(account))
    token = page.cookies["csrftoken"].value
    assert '"X-CSRFToken": "' in page.text  # base.html hands htmx the token
    accepted = client.post(
        url(account, "notes"), {"body": "real"}, headers=HTMX | {"X-CSRFToken": token}
    )
    assert accepted.status_code == 200
    assert Note.objects.get().body == "real"


def test_notes_only_accept_post(csm_client, account):
    assert csm_client.get(url(account, "notes")).status_code == 405


# --- stage changes -------------------------------------------------------------------------


def test_a_csm_changes_the_stage_and_it_is_recorded_with_them(csm_client, csm_user, account):
    response = csm_client.post(url(account, "stage"), {"stage": "renewal"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="account-header"')
    assert '<span class="badge stage-renewal">Renewal</span>' in response.text
    assert '<option value="renewal" selected>' in response.text
    assert json.loads(response["HX-Trigger"]) == {"timeline-changed": {}}
    change = StageChange.objects.get()
    assert (change.from_stage, change.to_stage, change.changed_by, change.source) == (
        "onboarding",
        "renewal",
        csm_user,
        "user",
    )
    account.refresh_from_db()
    assert account.stage == "renewal"


def test_without_htmx_a_stage_change_redirects_back(csm_client, account):
    response = csm_client.post(url(account, "stage"), {"stage": "loyalty"})
    assert (response.status_code, response["Location"]) == (302, url(account))


def test_an_unknown_stage_is_refused_with_a_message(csm_client, account):
    response = csm_client.post(url(account, "stage"), {"stage": "won"}, headers=HTMX)
    assert response.status_code == 400
    assert "Select a valid choice. won is not one of the available choices." in response.text
    assert StageChange.objects.count() == 0


def test_viewers_cannot_change_the_stage(viewer_client, account):
    response = viewer_client.post(url(account, "stage"), {"stage": "renewal"})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.stage == "onboarding"
    assert StageChange.objects.count() == 0


def test_a_stage_change_needs_a_csrf_token(csm_user, account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    assert client.post(url(account, "stage"), {"stage": "renewal"}).status_code == 403
    assert StageChange.objects.count() == 0


# --- escaping ------------------------------------------------------------------------------


def test_script_payloads_are_escaped_everywhere_on_the_account(client, make_user):
    owner = make_user(Role.CSM, full_name=SCRIPT)
    account = make_account(
        name=SCRIPT, domain=SCRIPT, plan=SCRIPT, owner=owner, traits={SCRIPT: SCRIPT, "n": [SCRIPT]}
    )
    make_contact(account, name=SCRIPT, role=SCRIPT)
    make_ticket(account, subject=SCRIPT)
    note_create(account=account, author=owner, body=SCRIPT)
    account_change_stage(account=account, to_stage="renewal", actor=owner)
    add_usage(account, timezone.localdate(), **{SCRIPT: 3})
    revenue_change_record(
        account=account, mrr=Decimal("5"), effective_at=timezone.now(), plan=SCRIPT
    )
    client.force_login(owner)
    page = client.get(url(account)).text
    assert SCRIPT not in page
    assert page.count(ESCAPED) >= 6  # title, name, domain, plan, owner, trait key and value
    for section in ("timeline", "contacts", "revenue", "usage"):
        text = client.get(url(account, section), headers=HTMX).text
        assert SCRIPT not in text, section
        assert "<script>alert" not in text, section
    timeline = client.get(url(account, "timeline"), headers=HTMX).text
    assert timeline.count(ESCAPED) >= 5  # note author and body, ticket, stage actor, usage type
    usage = client.get(url(account, "usage"), headers=HTMX).text
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in usage
    assert json_script(usage, "usage-spec")["data"][0]["name"] == SCRIPT


def test_quotes_ampersands_and_inline_markup_in_names_and_traits_are_escaped(client, make_user):
    """Odd but possible customer data, once part of the demo company: the portfolio and the
    account page show it as text."""
    owner = make_user(Role.CSM)
    name = "\"Quoted\" <b>Bold</b> & O'Reilly's <script>alert('tenure')</script> Labs"
    traits = {"tagline": "<img src=x onerror=alert(1)>", "motto": 'Fish & "chips" <i>daily</i>'}
    account = make_account(name=name, owner=owner, traits=traits)
    escaped_name = (
        "&quot;Quoted&quot; &lt;b&gt;Bold&lt;/b&gt; &amp; O&#x27;Reilly&#x27;s "
        "&lt;script&gt;alert(&#x27;tenure&#x27;)&lt;/script&gt; Labs"
    )
    client.force_login(owner)
    for page in (client.get("/customers/").text, client.get(url(account)).text):
        assert escaped_name in page
        for raw in ("<b>Bold", "<script>alert('tenure')", "<img src=x", "<i>daily"):
            assert raw not in page
    page = client.get(url(account)).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Fish &amp; &quot;chips&quot; &lt;i&gt;daily&lt;/i&gt;" in page


# --- query counts --------------------------------------------------------------------------


@pytest.fixture
def busy_account(csm_user, make_user):
    """An account with plenty of everything, to prove the page's queries do not grow."""
    account = make_account(name="Busy", owner=csm_user, traits={f"t{i}": i for i in range(30)})
    now = timezone.now()
    today = timezone.localdate()
    authors = [make_user(Role.CSM) for _ in range(3)]
    for _ in range(120):
        make_contact(account)
    for i in range(60):
        note_create(account=account, author=authors[i % 3], body=f"note {i}")
    for i in range(40):
        make_ticket(
            account,
            opened_at=now - dt.timedelta(days=i + 1),
            status="closed" if i % 2 else "open",
            closed_at=now - dt.timedelta(days=i) if i % 2 else None,
        )
    for i, stage in enumerate(["conversion", "purchase", "onboarding", "renewal", "loyalty"] * 6):
        account_change_stage(
            account=account, to_stage=stage, actor=authors[i % 3], at=now - dt.timedelta(hours=i)
        )
    for i in range(100):
        add_usage(account, today - dt.timedelta(days=i), login=i + 1, feature_used=2, export=1)
    for i in range(24):
        revenue_change_record(
            account=account,
            mrr=Decimal(100 + i),
            effective_at=now - dt.timedelta(days=30 * (24 - i)),
        )
    return account


@pytest.mark.parametrize(
    ("section", "limit"),
    [("", 6), ("timeline", None), ("contacts", 6), ("revenue", 5), ("usage", 5)],
)
def test_the_account_pages_read_a_bounded_number_of_queries(
    csm_client, busy_account, django_assert_max_num_queries, section, limit
):
    """As many queries for a busy account as for one with a single item of each kind (the
    contacts section adds one COUNT once the list is cut), and few of them: session, user,
    account, the section's own reads (the timeline: up to two per registered source)."""
    headers = HTMX if section else {}
    small = make_account(name="Small", owner=busy_account.owner)
    make_contact(small)
    note_create(account=small, author=busy_account.owner, body="one")
    make_ticket(small, status="closed", closed_at=timezone.now())
    account_change_stage(account=small, to_stage="renewal", actor=busy_account.owner)
    add_usage(small, timezone.localdate(), login=1)
    revenue_change_record(account=small, mrr=Decimal(1), effective_at=timezone.now())
    with CaptureQueriesContext(connection) as baseline:
        csm_client.get(url(small, section), headers=headers)
    limit = limit or 4 + 2 * len(sources())
    with django_assert_max_num_queries(limit), CaptureQueriesContext(connection) as busy:
        response = csm_client.get(url(busy_account, section), headers=headers)
    assert response.status_code == 200
    assert len(busy) == len(baseline) + (1 if section == "contacts" else 0)


def test_posting_a_note_reads_a_bounded_number_of_queries(
    csm_client, busy_account, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = csm_client.post(url(busy_account, "notes"), {"body": "hi"}, headers=HTMX)
    assert response.status_code == 200
