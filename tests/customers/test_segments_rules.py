"""Segment rules: every field and operator on hand-built accounts (SQLite and PostgreSQL alike),
the parser's messages for bad rules, and what is stored after reading."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.roles import Role
from customers.models import Account, Segment
from customers.segments import SegmentRulesError, rule_describe, rules_clean, rules_q
from tests.customers.factories import make_account
from tests.surveys.factories import make_answer, make_survey

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 6, 1)


def matching(*rules: dict, match: str = "all") -> set[str]:
    """Names of the accounts the rules match (rules are cleaned first, as when saved)."""
    cleaned = rules_clean(list(rules))
    return set(
        Account.objects.filter(rules_q(cleaned, match=match, now=NOW)).values_list(
            "name", flat=True
        )
    )


def rule(field: str, operator: str, value=None) -> dict:
    return {"field": field, "operator": operator, "value": value}


def scored(name: str, score: int | None, band: str = "", **fields) -> Account:
    account = make_account(name=name, **fields)
    Account.objects.filter(pk=account.pk).update(health_score=score, health_band=band)
    return account


# --- plain fields ------------------------------------------------------------------------------


def test_name_equals_ignoring_case_contains_one_of_and_not_equals():
    make_account(name="Acme Rockets")
    make_account(name="Beta Bakery")
    make_account(name="Gamma Gears")
    assert matching(rule("name", "equals", "acme rockets")) == {"Acme Rockets"}
    assert matching(rule("name", "contains", "GEAR")) == {"Gamma Gears"}
    assert matching(rule("name", "not_equals", "Beta Bakery")) == {"Acme Rockets", "Gamma Gears"}
    assert matching(rule("name", "one_of", "Beta Bakery, Gamma Gears")) == {
        "Beta Bakery",
        "Gamma Gears",
    }


def test_plan_is_set_and_is_not_set_treat_an_empty_plan_as_unset():
    make_account(name="Pro", plan="Pro")
    make_account(name="Starter", plan="Starter")
    make_account(name="None", plan="")
    assert matching(rule("plan", "equals", "Pro")) == {"Pro"}
    assert matching(rule("plan", "is_set")) == {"Pro", "Starter"}
    assert matching(rule("plan", "is_not_set")) == {"None"}
    assert matching(rule("plan", "one_of", ["Pro", "Starter"])) == {"Pro", "Starter"}


def test_stage_equals_not_equals_and_one_of():
    make_account(name="On", stage="onboarding")
    make_account(name="Re", stage="renewal")
    make_account(name="Lo", stage="loyalty")
    assert matching(rule("stage", "equals", "renewal")) == {"Re"}
    assert matching(rule("stage", "not_equals", "renewal")) == {"On", "Lo"}
    assert matching(rule("stage", "one_of", "onboarding,loyalty")) == {"On", "Lo"}


def test_owner_by_id_unowned_and_not_equals_includes_the_unowned(make_user):
    casey = make_user(Role.CSM, "casey@example.com")
    olga = make_user(Role.CSM, "olga@example.com")
    make_account(name="Casey's", owner=casey)
    make_account(name="Olga's", owner=olga)
    make_account(name="Nobody's")
    assert matching(rule("owner", "equals", casey.pk)) == {"Casey's"}
    assert matching(rule("owner", "equals", "none")) == {"Nobody's"}
    assert matching(rule("owner", "not_equals", casey.pk)) == {"Olga's", "Nobody's"}
    assert matching(rule("owner", "one_of", [olga.pk, "none"])) == {"Olga's", "Nobody's"}
    assert matching(rule("owner", "is_set")) == {"Casey's", "Olga's"}
    assert matching(rule("owner", "is_not_set")) == {"Nobody's"}


def test_owner_me_is_stored_as_the_users_id(make_user):
    casey = make_user(Role.CSM, "casey@example.com")
    assert rules_clean([rule("owner", "equals", "me")], user=casey) == [
        rule("owner", "equals", casey.pk)
    ]


def test_mrr_compares_in_the_base_currency_with_every_comparison():
    make_account(name="Small", mrr="100", currency="EUR", mrr_base=Decimal("110"))
    make_account(name="Mid", mrr="500")
    make_account(name="Big", mrr="2000")
    assert matching(rule("mrr", "lt", "110")) == set()
    assert matching(rule("mrr", "lte", "110")) == {"Small"}
    assert matching(rule("mrr", "gt", "500")) == {"Big"}
    assert matching(rule("mrr", "gte", "500")) == {"Mid", "Big"}
    assert matching(rule("mrr", "equals", "500.00")) == {"Mid"}
    assert matching(rule("mrr", "not_equals", 500)) == {"Small", "Big"}


def test_health_band_counts_unscored_as_none_and_score_compares():
    scored("Red", 30, "red")
    scored("Green", 85, "green")
    scored("New", None)
    assert matching(rule("health_band", "equals", "red")) == {"Red"}
    assert matching(rule("health_band", "equals", "none")) == {"New"}
    assert matching(rule("health_band", "one_of", ["green", "none"])) == {"Green", "New"}
    assert matching(rule("health_band", "not_equals", "green")) == {"Red", "New"}
    assert matching(rule("health_score", "lt", 50)) == {"Red"}
    assert matching(rule("health_score", "gte", 30)) == {"Red", "Green"}
    assert matching(rule("health_score", "not_equals", 30)) == {"Green", "New"}
    assert matching(rule("health_score", "is_not_set")) == {"New"}


def test_renewal_within_the_next_days_counts_from_today_inclusive():
    make_account(name="Today", renewal_date=TODAY)
    make_account(name="In 30", renewal_date=TODAY + dt.timedelta(days=30))
    make_account(name="In 31", renewal_date=TODAY + dt.timedelta(days=31))
    make_account(name="Past", renewal_date=TODAY - dt.timedelta(days=1))
    make_account(name="Never")
    assert matching(rule("renewal", "within_next_days", 30)) == {"Today", "In 30"}
    assert matching(rule("renewal", "is_not_set")) == {"Never"}
    assert matching(rule("renewal", "is_set")) == {"Today", "In 30", "In 31", "Past"}


def test_account_age_in_whole_days():
    make_account(name="New", created_at=NOW - dt.timedelta(days=9, hours=23))
    make_account(name="Ten", created_at=NOW - dt.timedelta(days=10, hours=1))
    make_account(name="Old", created_at=NOW - dt.timedelta(days=400))
    assert matching(rule("age_days", "equals", 10)) == {"Ten"}
    assert matching(rule("age_days", "lt", 10)) == {"New"}
    assert matching(rule("age_days", "lte", 10)) == {"New", "Ten"}
    assert matching(rule("age_days", "gt", 10)) == {"Old"}
    assert matching(rule("age_days", "gte", 10)) == {"Ten", "Old"}
    assert matching(rule("age_days", "not_equals", 10)) == {"New", "Old"}


def test_churned_yes_and_no():
    make_account(name="Gone", churned_at=NOW - dt.timedelta(days=3))
    make_account(name="Here")
    assert matching(rule("churned", "equals", "yes")) == {"Gone"}
    assert matching(rule("churned", "equals", "no")) == {"Here"}
    assert matching(rule("churned", "not_equals", True)) == {"Here"}


# --- traits ----------------------------------------------------------------------------------


@pytest.fixture
def traited():
    make_account(name="Gold", traits={"tier": "gold", "seats": 40, "beta": True})
    make_account(name="Silver", traits={"tier": "silver", "seats": 5.5, "beta": False})
    make_account(name="Text seats", traits={"tier": "Gold plus", "seats": "40"})
    make_account(name="Null tier", traits={"tier": None})
    make_account(name="Bare", traits={})


def test_trait_equals_matches_the_text_or_the_number_or_boolean_it_spells(traited):
    assert matching(rule("traits.tier", "equals", "gold")) == {"Gold"}
    assert matching(rule("traits.seats", "equals", "40")) == {"Gold", "Text seats"}
    assert matching(rule("traits.seats", "equals", "5.5")) == {"Silver"}
    assert matching(rule("traits.beta", "equals", "true")) == {"Gold"}
    assert matching(rule("traits.beta", "equals", "false")) == {"Silver"}


def test_trait_not_equals_includes_accounts_without_the_trait(traited):
    assert matching(rule("traits.tier", "not_equals", "gold")) == {
        "Silver",
        "Text seats",
        "Null tier",
        "Bare",
    }


def test_trait_one_of_contains_and_presence(traited):
    assert matching(rule("traits.tier", "one_of", "gold, silver")) == {"Gold", "Silver"}
    assert matching(rule("traits.tier", "contains", "GOLD")) == {"Gold", "Text seats"}
    assert matching(rule("traits.tier", "is_set")) == {"Gold", "Silver", "Text seats"}
    assert matching(rule("traits.tier", "is_not_set")) == {"Null tier", "Bare"}


def test_trait_comparisons_only_match_numbers(traited):
    # "40" (text) is neither above nor below a number: the databases order mixed types
    # differently, so only JSON numbers are compared.
    assert matching(rule("traits.seats", "gt", 10)) == {"Gold"}
    assert matching(rule("traits.seats", "lt", "10")) == {"Silver"}
    assert matching(rule("traits.seats", "lte", 40)) == {"Gold", "Silver"}
    assert matching(rule("traits.seats", "gte", "5.5")) == {"Gold", "Silver"}
    assert matching(rule("traits.tier", "lt", 100)) == set()


def test_a_trait_key_that_is_also_a_lookup_name_is_just_a_key():
    make_account(name="Odd", traits={"contains": "x", "has-dash": 1})
    make_account(name="Other", traits={"contains": "y"})
    assert matching(rule("traits.contains", "equals", "x")) == {"Odd"}
    assert matching(rule("traits.has-dash", "gte", 1)) == {"Odd"}


# --- latest NPS category ---------------------------------------------------------------------


def test_latest_nps_category_reads_only_the_latest_scored_nps_answer():
    nps, csat = make_survey("nps"), make_survey("csat")
    promoter = make_account(name="Promoter")
    make_answer(nps, 2, acc=promoter, days_ago=30)
    make_answer(nps, 10, acc=promoter, days_ago=1)  # the latest wins
    passive = make_account(name="Passive")
    make_answer(nps, 7, acc=passive, days_ago=2)
    make_answer(csat, 1, acc=passive, days_ago=1)  # not NPS: ignored
    detractor = make_account(name="Detractor")
    make_answer(nps, 6, acc=detractor, days_ago=3)
    make_answer(nps, None, acc=detractor, days_ago=1)  # no score: ignored
    make_account(name="Silent")

    assert matching(rule("nps_category", "equals", "promoter")) == {"Promoter"}
    assert matching(rule("nps_category", "equals", "passive")) == {"Passive"}
    assert matching(rule("nps_category", "equals", "detractor")) == {"Detractor"}
    assert matching(rule("nps_category", "equals", "none")) == {"Silent"}
    assert matching(rule("nps_category", "not_equals", "promoter")) == {
        "Passive",
        "Detractor",
        "Silent",
    }
    assert matching(rule("nps_category", "one_of", ["detractor", "none"])) == {
        "Detractor",
        "Silent",
    }


# --- match all / any -------------------------------------------------------------------------


def test_match_all_needs_every_rule_and_any_one_of_them():
    make_account(name="Pro big", plan="Pro", mrr="900")
    make_account(name="Pro small", plan="Pro", mrr="10")
    make_account(name="Starter big", plan="Starter", mrr="900")
    make_account(name="Starter small", plan="Starter", mrr="10")
    rules = [rule("plan", "equals", "Pro"), rule("mrr", ">=", "500")]
    assert matching(*rules) == {"Pro big"}
    assert matching(*rules, match="any") == {"Pro big", "Pro small", "Starter big"}


# --- reading and messages --------------------------------------------------------------------


def test_rules_are_stored_in_canonical_form():
    assert rules_clean(
        [
            rule(" plan ", "=", " Pro "),
            rule("mrr", "≥", "1500"),
            rule("stage", "in", "Renewal, loyalty, renewal"),
            rule("renewal", "within_next_days", "30"),
            rule("health_band", "equals", "RED"),
            rule("plan", "is_set", "ignored"),
        ]
    ) == [
        rule("plan", "equals", "Pro"),
        rule("mrr", "gte", "1500.00"),
        rule("stage", "one_of", ["renewal", "loyalty"]),
        rule("renewal", "within_next_days", 30),
        rule("health_band", "equals", "red"),
        rule("plan", "is_set", None),
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "Add at least one rule."),
        ("plan=Pro", "Rules must be a list of {field, operator, value}."),
        (["plan"], "Rule 1: expected an object with field, operator and value."),
        ([rule("", "equals", "x")], "Rule 1: choose a field."),
        ([rule("colour", "equals", "red")], "Rule 1: unknown field “colour”. Fields: name, plan,"),
        ([rule("traits.", "equals", "x")], "Rule 1: “traits.” is not a trait name"),
        ([rule("traits.9lives", "equals", "x")], "Rule 1: “traits.9lives” is not a trait name"),
        ([rule("plan", "", "x")], "Rule 1: choose an operator for Plan."),
        ([rule("mrr", "contains", "5")], "Rule 1: MRR (base currency) cannot use “contains”; use"),
        ([rule("stage", "lt", "renewal")], "Rule 1: Lifecycle stage cannot use “<”; use one of"),
        ([rule("plan", "like", "x")], "Rule 1: Plan cannot use “like”"),
        ([rule("plan", "equals", " ")], "Rule 1: Plan needs a value."),
        ([rule("plan", "equals", "x" * 201)], "Rule 1: Plan: a value may be at most 200"),
        ([rule("mrr", "gt", "abc")], "Rule 1: MRR (base currency) needs an amount like 1500"),
        ([rule("mrr", "gt", "1e5")], "Rule 1: MRR (base currency) needs an amount like 1500"),
        ([rule("mrr", "gt", "-5")], "Rule 1: MRR (base currency) must be between 0 and"),
        ([rule("stage", "equals", "purple")], "Rule 1: Lifecycle stage cannot be “purple”"),
        ([rule("health_score", "gt", "101")], "Rule 1: Health score must be between 0 and 100."),
        ([rule("health_score", "gt", "１２")], "Rule 1: Health score needs a whole number"),
        ([rule("renewal", "within_next_days", "x")], "Rule 1: Renewal date needs a number of"),
        ([rule("churned", "equals", "maybe")], "Rule 1: Churned needs yes or no, not “maybe”."),
        ([rule("owner", "equals", "bob")], "Rule 1: Owner needs a user id or “none”"),
        ([rule("owner", "equals", 99999)], "Rule 1: no user with id 99999."),
        ([rule("traits.seats", "gt", "many")], "Rule 1: Trait “seats” > needs a number"),
        ([rule("stage", "one_of", " , ")], "Rule 1: Lifecycle stage is one of: give at least one"),
        ([rule("nps_category", "equals", "fan")], "Rule 1: Latest NPS category cannot be “fan”"),
        ([rule("plan", "equals", "x")] * 21, "A segment may have at most 20 rules."),
    ],
)
def test_bad_rules_get_a_message_naming_the_rule_and_the_problem(rules, message):
    with pytest.raises(SegmentRulesError) as raised:
        rules_clean(rules)
    assert any(m.startswith(message) for m in raised.value.messages), raised.value.messages


def test_every_bad_rule_is_reported_at_once_with_its_position():
    with pytest.raises(SegmentRulesError) as raised:
        rules_clean([rule("plan", "equals", "Pro"), rule("x", "equals", 1), rule("mrr", "gt", "")])
    assert [index for index, _ in raised.value.problems] == [1, 2]
    assert raised.value.messages[0].startswith("Rule 2:")
    assert raised.value.messages[1].startswith("Rule 3:")


def test_the_model_refuses_bad_rules_under_its_rules_field():
    segment = Segment(name="Bad", rules=[rule("mrr", "contains", "x")])
    with pytest.raises(ValidationError) as raised:
        segment.full_clean()
    assert "rules" in raised.value.message_dict


def test_a_stored_rule_whose_field_is_gone_raises_instead_of_matching_everything():
    with pytest.raises(SegmentRulesError):
        rules_q([rule("loyalty_tier", "equals", "gold")])


def test_rules_are_described_in_words(make_user):
    casey = make_user(Role.CSM, "casey@example.com", "Casey Success")
    assert rule_describe(rule("mrr", "gte", "1500.00")) == "MRR (base currency) ≥ 1500.00"
    assert rule_describe(rule("stage", "one_of", ["renewal", "loyalty"])) == (
        "Lifecycle stage is one of Renewal, Loyalty (advocate)"
    )
    assert rule_describe(rule("owner", "equals", casey.pk), user_names={casey.pk: "Casey"}) == (
        "Owner equals Casey"
    )
    assert rule_describe(rule("renewal", "within_next_days", 30)) == (
        "Renewal date is within the next 30 days"
    )
    assert rule_describe(rule("traits.tier", "is_set")) == "Trait “tier” is set"
