"""Where RFM shows outside its dashboard: the account page's section, the portfolio's ?rfm=
filter, the rfm_segment field of saved segments, and the nightly task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from config.celery import app
from customers.models import Account
from customers.segments import SegmentRulesError, rules_clean, rules_q
from metrics.models import AccountRfm
from metrics.rfm import rfm_recompute
from metrics.tasks import recompute_rfm
from tests.customers.factories import SCRIPT, make_account
from tests.metrics.rfm_factories import paid, revenue, store_rfm

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def section(client, account, **headers):
    return client.get(f"/metrics/accounts/{account.pk}/rfm/", headers=headers)


# --- account page section ----------------------------------------------------------------------


def test_the_account_page_loads_the_rfm_section(csm_client):
    account = make_account()
    page = csm_client.get(f"/customers/{account.pk}/")
    assert f'hx-get="/metrics/accounts/{account.pk}/rfm/"' in page.text


def test_the_section_shows_values_scores_segment_and_when_it_was_computed(viewer_client):
    account = make_account()
    store_rfm(account, "at_risk", r=2, f=4, m=3, recency_days=45, frequency=7, monetary="1234.50")
    response = section(viewer_client, account, **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text  # the fragment for htmx
    text = " ".join(response.text.split())
    assert 'data-rfm-segment="at_risk"' in text
    assert "At risk" in text
    assert "45 days since the last payment (2026-06-01) · score 2/5" in text
    assert "7 payments in 12 months · score 4/5" in text
    assert "1,234.50 USD in 12 months · score 3/5" in text
    assert "for 2026-06-15" in text
    assert "rfm=at_risk" in text


def test_a_free_account_shows_active_days_and_no_m_score(csm_client):
    account = make_account()
    store_rfm(account, "new", basis="free", m=None, monetary="0", frequency=1, recency_days=1)
    text = " ".join(section(csm_client, account, **HTMX).text.split())
    assert "1 day since the last active day" in text
    assert "1 active day in 12 months" in text
    assert "not scored (free account)" in text


def test_before_the_first_run_the_section_says_rfm_runs_nightly(csm_client):
    account = make_account()
    text = section(csm_client, account, **HTMX).text
    assert "Not scored yet: RFM is computed nightly." in text


def test_an_account_left_out_of_a_run_says_why(csm_client):
    account = make_account()
    assert rfm_recompute(today=dt.date(2026, 6, 15)) == 0
    text = section(csm_client, account, **HTMX).text
    assert "no payment or product activity in the 12 months up to 2026-06-15" in text


def test_the_section_is_a_whole_page_without_htmx_and_needs_a_login(csm_client):
    account = make_account(name=SCRIPT)
    response = section(csm_client, account)
    assert "<html" in response.text and "RFM" in response.text
    assert SCRIPT not in response.text  # escaped
    assert section(Client(), account).status_code == 302
    assert csm_client.get("/metrics/accounts/999999/rfm/").status_code == 404


def test_the_section_takes_at_most_a_handful_of_queries(csm_client, django_assert_max_num_queries):
    account = make_account()
    store_rfm(account)
    with django_assert_max_num_queries(6):
        section(csm_client, account, **HTMX)


# --- portfolio filter --------------------------------------------------------------------------


def test_the_portfolio_filters_by_rfm_segment(csm_client):
    champ = make_account(name="Champ")
    store_rfm(champ, "champions")
    store_rfm(make_account(name="Sleepy"), "hibernating")
    make_account(name="Unscored")
    response = csm_client.get("/customers/", {"owner": "all", "rfm": "champions"})
    assert response.status_code == 200
    assert [a.name for a in response.context["page"].object_list] == ["Champ"]
    assert '<option value="champions" selected>Champions</option>' in response.text
    response = csm_client.get("/customers/", {"owner": "all", "rfm": "none"})
    assert [a.name for a in response.context["page"].object_list] == ["Unscored"]


def test_the_rfm_filter_stays_in_the_canonical_url_and_the_export(csm_client):
    store_rfm(make_account(name="Champ"), "champions")
    response = csm_client.get("/customers/", {"owner": "all", "rfm": "champions"}, headers=HTMX)
    assert response["HX-Push-Url"] == "/customers/?owner=all&rfm=champions"
    export = csm_client.get("/customers/export.csv", {"owner": "all", "rfm": "champions"})
    body = b"".join(export.streaming_content).decode()
    assert "Champ" in body and body.count("\n") == 2


def test_an_unknown_rfm_segment_in_the_url_gets_a_message_not_a_500(csm_client):
    response = csm_client.get("/customers/", {"rfm": "<b>best</b>"})
    assert response.status_code == 400
    assert "RFM: Select a valid choice." in response.text
    assert "<b>best</b>" not in response.text


# --- saved segment rules -----------------------------------------------------------------------


def matching(*rules: dict) -> set[str]:
    q = rules_q(rules_clean(list(rules)), match="all")
    return set(Account.objects.filter(q).values_list("name", flat=True))


def rule(operator: str, value) -> dict:
    return {"field": "rfm_segment", "operator": operator, "value": value}


def test_segment_rules_can_test_the_rfm_segment():
    store_rfm(make_account(name="Champ"), "champions")
    store_rfm(make_account(name="Risky"), "at_risk")
    make_account(name="Unscored")
    assert matching(rule("equals", "champions")) == {"Champ"}
    assert matching(rule("not_equals", "champions")) == {"Risky", "Unscored"}
    assert matching(rule("one_of", ["at_risk", "none"])) == {"Risky", "Unscored"}
    assert matching(rule("equals", "none")) == {"Unscored"}


def test_a_bad_rfm_segment_in_a_rule_is_refused_with_a_message():
    with pytest.raises(SegmentRulesError) as raised:
        rules_clean([rule("equals", "vip")])
    assert raised.value.messages[0].startswith("Rule 1: RFM segment cannot be “vip”")


# --- the nightly task --------------------------------------------------------------------------


def test_the_beat_runs_the_rfm_task_nightly_with_an_expiry():
    entry = app.conf.beat_schedule["metrics-recompute-rfm"]
    assert entry["task"] == "metrics.tasks.recompute_rfm"
    assert entry["schedule"] == 24 * 60 * 60
    assert 0 < entry["options"]["expires"] <= entry["schedule"]


def test_the_task_scores_the_day_once_and_then_returns_early():
    account = make_account()
    revenue(account, "2026-01-05", 40, kind="started")
    paid(account, "2026-06-01")
    assert recompute_rfm.delay("2026-06-15").get() == 1
    row = AccountRfm.objects.get()
    assert (row.as_of, row.frequency, row.recency_days) == (dt.date(2026, 6, 15), 1, 14)
    paid(account, "2026-06-10")
    assert recompute_rfm.delay("2026-06-15").get() is None  # already done for that day
    assert AccountRfm.objects.get().frequency == 1
    assert recompute_rfm.delay("2026-06-15", force=True).get() == 1
    assert AccountRfm.objects.get().frequency == 2


def test_the_task_with_nothing_to_score_does_nothing():
    make_account()
    assert recompute_rfm.delay("2026-06-15").get() == 0
    assert not AccountRfm.objects.exists()


def test_the_task_returns_early_while_another_run_holds_the_lock(monkeypatch):
    from contextlib import contextmanager

    import metrics.tasks

    @contextmanager
    def held_elsewhere(name):
        yield False

    monkeypatch.setattr(metrics.tasks, "single_run", held_elsewhere)
    account = make_account()
    paid(account, "2026-06-01")
    assert recompute_rfm.delay("2026-06-15").get() is None
    assert not AccountRfm.objects.exists()


def test_the_segment_editor_offers_the_rfm_segment_field(csm_client):
    response = csm_client.get("/customers/segments/new/")
    assert response.status_code == 200
    assert 'value="rfm_segment"' in response.text
    assert "RFM segment" in response.text
