"""The segment pages: list with live counts, the editor (rows, live count, saving, messages),
deleting, permissions, CSRF, escaping and query counts; and the portfolio's segment filter."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.roles import Role
from customers.models import Account, Segment
from tests.customers.factories import SCRIPT, make_account, make_accounts
from tests.surveys.factories import make_survey

pytestmark = pytest.mark.django_db

LIST = "/customers/segments/"
NEW = "/customers/segments/new/"
PREVIEW = "/customers/segments/preview/"
RULES = "/customers/segments/rules/"
PORTFOLIO = "/customers/"
HTMX = {"HX-Request": "true"}


def segment(name: str = "Pro", rules=None, match: str = "all", **fields) -> Segment:
    rules = (
        rules if rules is not None else [{"field": "plan", "operator": "equals", "value": "Pro"}]
    )
    return Segment.objects.create(name=name, rules=rules, match=match, **fields)


def rows(*rules: tuple[str, str, str], **extra) -> dict:
    """The editor's POST/GET data for these (field, operator, value) rows."""
    data = {"match": "all"}
    for n, (field, operator, value) in enumerate(rules):
        data |= {f"rule-{n}-field": field, f"rule-{n}-operator": operator, f"rule-{n}-value": value}
    return data | extra


def names(response) -> list[str]:
    return [a.name for a in response.context["page"].object_list]


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_each_segment_with_its_live_count_and_rules(viewer_client):
    make_account(name="A", plan="Pro", mrr="900")
    make_account(name="B", plan="Pro", mrr="10")
    make_account(name="C", plan="Starter", mrr="900")
    pro = segment("Pro accounts")
    big = segment("Big", [{"field": "mrr", "operator": "gte", "value": "500.00"}])

    response = viewer_client.get(LIST)

    assert response.status_code == 200
    text = response.text
    assert re.search(rf'data-segment="{pro.pk}".*?data-count="2"', text, re.S)
    assert re.search(rf'data-segment="{big.pk}".*?data-count="2"', text, re.S)
    assert "Plan equals Pro" in text and "MRR (base currency) ≥ 500.00" in text
    assert f"?owner=all&amp;segment={pro.pk}" in text


def test_the_counts_follow_the_data_without_saving_anything(csm_client):
    pro = segment()
    make_account(plan="Pro")
    first = csm_client.get(LIST).text
    make_account(plan="Pro")
    second = csm_client.get(LIST).text
    assert re.search(rf'data-segment="{pro.pk}".*?data-count="1"', first, re.S)
    assert re.search(rf'data-segment="{pro.pk}".*?data-count="2"', second, re.S)


def test_the_list_counts_every_segment_in_one_query(csm_client, django_assert_max_num_queries):
    make_accounts(30, plan="Pro")
    for n in range(12):
        segment(f"S{n}", [{"field": "plan", "operator": "equals", "value": "Pro"}])
    segment("Owned", [{"field": "owner", "operator": "equals", "value": "none"}])
    segment("NPS", [{"field": "nps_category", "operator": "equals", "value": "promoter"}])
    # session, user, groups, segments, one aggregate for every count (+ savepoints in tests)
    with django_assert_max_num_queries(6):
        response = csm_client.get(LIST)
    assert response.text.count('data-count="30"') == 13


def test_a_segment_whose_rules_no_longer_read_is_listed_with_why_not_a_500(csm_client):
    segment("Old", [{"field": "loyalty_tier", "operator": "equals", "value": "gold"}])
    response = csm_client.get(LIST)
    assert response.status_code == 200
    assert "unknown field “loyalty_tier”" in response.text


def test_names_descriptions_and_rule_values_are_escaped(csm_client):
    segment(SCRIPT, [{"field": "plan", "operator": "equals", "value": SCRIPT}], description=SCRIPT)
    response = csm_client.get(LIST)
    assert SCRIPT not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_viewers_read_the_list_without_links_to_change_it(viewer_client):
    pro = segment()
    response = viewer_client.get(LIST)
    assert response.status_code == 200
    assert NEW not in response.text
    assert f"/customers/segments/{pro.pk}/delete/" not in response.text


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in (LIST, NEW, PREVIEW, RULES):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/auth/login/")


# --- creating and editing ----------------------------------------------------------------------


def test_a_csm_creates_a_segment_with_two_rules(csm_client, csm_user):
    data = rows(("plan", "equals", "Pro"), ("mrr", "gte", "1500"), name=" Big Pro ", match="all")
    response = csm_client.post(NEW, data)
    assert response.status_code == 302 and response.url == LIST
    saved = Segment.objects.get()
    assert (saved.name, saved.match, saved.created_by) == ("Big Pro", "all", csm_user)
    assert saved.rules == [
        {"field": "plan", "operator": "equals", "value": "Pro"},
        {"field": "mrr", "operator": "gte", "value": "1500.00"},
    ]


def test_traits_multi_choice_and_owner_me_are_saved_as_their_canonical_rules(csm_client, csm_user):
    data = rows(("traits", "one_of", "gold, silver"), ("owner", "equals", "me"), name="Mine")
    data["rule-0-key"] = "tier"
    data["rule-2-field"], data["rule-2-operator"] = "stage", "one_of"
    data = {k: v for k, v in data.items()}
    response = csm_client.post(NEW, {**data, "rule-2-value": ["renewal", "loyalty"]})
    assert response.status_code == 302
    assert Segment.objects.get().rules == [
        {"field": "traits.tier", "operator": "one_of", "value": ["gold", "silver"]},
        {"field": "owner", "operator": "equals", "value": csm_user.pk},
        {"field": "stage", "operator": "one_of", "value": ["renewal", "loyalty"]},
    ]


def test_bad_rules_are_shown_beside_their_row_and_nothing_is_saved(csm_client):
    data = rows(("plan", "equals", "Pro"), ("mrr", "gte", "lots"), name="Bad")
    response = csm_client.post(NEW, data)
    assert response.status_code == 422
    assert Segment.objects.count() == 0
    assert re.search(
        r'data-rule="1".*?Rule 2: MRR \(base currency\) needs an amount like 1500',
        response.text,
        re.S,
    )
    assert 'value="lots"' in response.text  # kept for correcting


def test_a_name_in_use_is_refused_with_a_message(csm_client):
    segment("Pro")
    response = csm_client.post(NEW, rows(("plan", "equals", "Starter"), name="Pro"))
    assert response.status_code == 422
    assert "Segment with this Name already exists." in response.text
    assert Segment.objects.get().rules[0]["value"] == "Pro"


def test_editing_changes_the_rules_and_keeps_the_creator(csm_client, make_user):
    author = make_user(Role.CSM, "author@example.com")
    pro = segment(created_by=author)
    page = csm_client.get(f"/customers/segments/{pro.pk}/")
    assert page.status_code == 200 and 'value="Pro"' in page.text
    response = csm_client.post(
        f"/customers/segments/{pro.pk}/", rows(("plan", "equals", "Starter"), name="Starter")
    )
    assert response.status_code == 302
    pro.refresh_from_db()
    assert (pro.name, pro.rules[0]["value"], pro.created_by) == ("Starter", "Starter", author)


def test_without_javascript_add_and_remove_rule_redraw_the_rows_unsaved(csm_client):
    added = csm_client.post(NEW, rows(("plan", "equals", "Pro"), name="", add_rule="1"))
    assert added.status_code == 200
    assert len(added.context["rows"]) == 2
    assert "This field is required" not in added.text
    removed = csm_client.post(
        NEW, rows(("plan", "equals", "Pro"), ("mrr", "gt", "5"), name="X", remove_rule="0")
    )
    assert [row.field for row in removed.context["rows"]] == ["mrr"]
    assert Segment.objects.count() == 0


def row_fields(text: str) -> list[str]:
    """The field chosen in each rule row of a rendered editor."""
    return re.findall(r'name="rule-\d+-field".*?<option value="([^"]+)" selected>', text, re.S)


def test_the_rules_endpoint_fits_the_operator_to_a_new_field_and_sends_the_count(csm_client):
    make_account(stage="renewal")
    response = csm_client.get(RULES, rows(("stage", "contains", "renewal")), headers=HTMX)
    assert response.status_code == 200
    # "contains" does not suit a stage: the row offers the stage's operators, equals first
    assert '<option value="equals" selected>equals</option>' in response.text
    assert 'value="contains"' not in response.text
    assert 'hx-swap-oob="innerHTML"' in response.text
    assert 'data-count="1"' in response.text
    assert "<html" not in response.text


def test_the_rules_endpoint_adds_and_removes_rows(csm_client):
    added = csm_client.get(RULES, rows(("mrr", "gt", "1"), add_rule="1"))
    assert row_fields(added.text) == ["mrr", "plan"]
    removed = csm_client.get(
        RULES, rows(("plan", "equals", "Pro"), ("mrr", "gt", "1"), remove_rule="0")
    )
    assert row_fields(removed.text) == ["mrr"]
    assert 'name="rule-0-field"' in removed.text  # renumbered


# --- the live count ------------------------------------------------------------------------


def test_the_preview_counts_what_the_rules_on_the_page_match(viewer_client):
    make_account(plan="Pro", mrr="900")
    make_account(plan="Pro", mrr="10")
    make_account(plan="Starter", mrr="900")
    both = rows(("plan", "equals", "Pro"), ("mrr", "gte", "500"))
    assert 'data-count="1"' in viewer_client.get(PREVIEW, both | {"match": "all"}).text
    assert 'data-count="3"' in viewer_client.get(PREVIEW, both | {"match": "any"}).text


def test_the_preview_of_bad_rules_says_why_with_a_400(csm_client):
    response = csm_client.get(PREVIEW, rows(("health_score", "gt", "<b>x</b>"), match="all"))
    assert response.status_code == 400
    assert "Rule 1: Health score needs a whole number" in response.text
    assert "<b>x</b>" not in response.text
    assert Segment.objects.count() == 0


def test_the_preview_refuses_an_unknown_match(csm_client):
    response = csm_client.get(PREVIEW, rows(("plan", "equals", "Pro"), match="some"))
    assert response.status_code == 400
    assert "Match must be “all” or “any”." in response.text


# --- deleting --------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes(csm_client):
    pro = segment()
    url = f"/customers/segments/{pro.pk}/delete/"
    confirm = csm_client.get(url)
    assert confirm.status_code == 200 and "Delete “Pro”?" in confirm.text
    assert Segment.objects.filter(pk=pro.pk).exists()
    response = csm_client.post(url)
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=pro.pk).exists()


def test_a_segment_a_campaign_targets_is_not_deleted_and_the_campaign_is_named(csm_client):
    from surveys.models import Campaign

    pro = segment()
    Campaign.objects.create(
        survey=make_survey(), name="Renewal NPS", audience="segment", segment=pro
    )
    response = csm_client.post(f"/customers/segments/{pro.pk}/delete/")
    assert response.status_code == 409
    assert "Renewal NPS" in response.text
    assert Segment.objects.filter(pk=pro.pk).exists()


# --- permissions and CSRF ------------------------------------------------------------------


def test_viewers_cannot_create_edit_or_delete(viewer_client):
    pro = segment()
    assert viewer_client.get(NEW).status_code == 403
    assert viewer_client.post(NEW, rows(("plan", "equals", "X"), name="X")).status_code == 403
    assert (
        viewer_client.post(
            f"/customers/segments/{pro.pk}/", rows(("plan", "equals", "X"), name="X")
        ).status_code
        == 403
    )
    assert viewer_client.post(f"/customers/segments/{pro.pk}/delete/").status_code == 403
    assert list(Segment.objects.values_list("name", "rules")) == [("Pro", pro.rules)]


def test_creating_needs_the_csrf_token(csm_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    response = client.post(NEW, rows(("plan", "equals", "Pro"), name="Pro"))
    assert response.status_code == 403
    assert Segment.objects.count() == 0


def test_an_unknown_segment_is_a_404(csm_client):
    assert csm_client.get("/customers/segments/999999/").status_code == 404
    assert csm_client.post("/customers/segments/999999/delete/").status_code == 404


# --- the portfolio filter ----------------------------------------------------------------------


def test_the_portfolio_filters_by_a_segment_with_the_other_filters(csm_client, csm_user):
    make_account(name="Mine Pro", plan="Pro", owner=csm_user, mrr="900")
    make_account(name="Mine Starter", plan="Starter", owner=csm_user, mrr="900")
    make_account(name="Nobody's Pro", plan="Pro", mrr="10")
    pro = segment()
    assert names(csm_client.get(PORTFOLIO, {"owner": "all", "segment": pro.pk})) == [
        "Mine Pro",
        "Nobody's Pro",
    ]
    response = csm_client.get(PORTFOLIO, {"owner": "me", "segment": pro.pk})
    assert names(response) == ["Mine Pro"]
    assert re.search(rf'<option value="{pro.pk}" selected>Pro</option>', response.text)
    htmx = csm_client.get(
        PORTFOLIO, {"owner": "all", "segment": pro.pk, "mrr_min": "100"}, headers=HTMX
    )
    assert htmx["HX-Push-Url"] == f"/customers/?owner=all&mrr_min=100&segment={pro.pk}"


def test_an_unknown_segment_in_the_portfolio_url_gets_a_message_not_a_500(csm_client):
    for value in ("999999", "<b>x</b>"):
        response = csm_client.get(PORTFOLIO, {"owner": "all", "segment": value})
        assert response.status_code == 400
        assert "Segment: there is no segment" in response.text
        assert "<b>x</b>" not in response.text


def test_a_segment_whose_rules_no_longer_read_is_refused_by_the_portfolio(csm_client):
    old = segment("Old", [{"field": "loyalty_tier", "operator": "equals", "value": "gold"}])
    response = csm_client.get(PORTFOLIO, {"owner": "all", "segment": old.pk})
    assert response.status_code == 400
    assert "“Old” cannot be applied: Rule 1: unknown field" in response.text


def test_the_portfolio_export_keeps_the_segment_filter(csm_client):
    make_account(name="In", plan="Pro")
    make_account(name="Out", plan="Starter")
    pro = segment()
    response = csm_client.get("/customers/export.csv", {"owner": "all", "segment": pro.pk})
    body = b"".join(response.streaming_content).decode()
    assert "In" in body and "Out" not in body


def test_the_segment_filter_adds_no_query_per_account(
    csm_client, csm_user, django_assert_max_num_queries
):
    make_accounts(120, plan="Pro", owner=csm_user)
    pro = segment(
        "NPS promoters", [{"field": "nps_category", "operator": "not_equals", "value": "promoter"}]
    )
    # session, user, groups, plans, segments, owners, count, ids, rows (+ savepoints in tests)
    with django_assert_max_num_queries(10):
        response = csm_client.get(PORTFOLIO, {"owner": "all", "segment": pro.pk})
    assert response.context["page"].paginator.count == 120
    assert Account.objects.count() == 120


def test_a_trait_row_keeps_its_operator_while_its_key_is_missing(csm_client):
    data = rows(("traits", "gt", "10"))
    data["rule-0-key"] = ""
    response = csm_client.get(PREVIEW, data)
    assert response.status_code == 400
    assert "Rule 1: “traits.” is not a trait name" in response.text
    redrawn = csm_client.get(RULES, data).text
    assert '<option value="gt" selected>' in redrawn


def test_a_name_taken_between_the_check_and_the_save_is_a_message_not_a_500(
    csm_client, monkeypatch
):
    segment("Pro")
    # As if another request saved the name after this one checked it.
    monkeypatch.setattr(Segment, "validate_unique", lambda self, exclude=None: None)
    response = csm_client.post(NEW, rows(("plan", "equals", "Starter"), name="Pro"))
    assert response.status_code == 422
    assert "A segment with this name already exists." in response.text
    assert Segment.objects.count() == 1
