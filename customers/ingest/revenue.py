"""Revenue changes: the billing system's history, recorded once each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core import db
from customers import services
from customers.ingest import fields
from customers.ingest.results import IngestResult, ItemError, Outcome, error_of
from customers.models import (
    Account,
    RevenueChange,
    RevenueKind,
)
from customers.services import RevenueChangeInput, money


def _revenue_parse(raw: Any) -> tuple[str, str, dict[str, Any]]:
    item = fields.item(raw)
    external = fields.external_id(item.get("id"), "id")
    account = fields.external_id(item.get("account"), "account")
    values: dict[str, Any] = {
        "mrr": fields.amount(item.get("mrr"), "mrr"),
        "effective_at": fields.moment(item.get("effective_at"), "effective_at"),
        "plan": fields.text(item.get("plan"), "plan", max_length=100),
        "kind": None,
    }
    if item.get("kind") is not None:
        values["kind"] = fields.choice(item["kind"], "kind", RevenueKind, "kind of revenue change")
    if item.get("currency") is not None:
        values["currency"] = fields.currency(item["currency"], "currency")
    return external, account, values


def _same_change(recorded: RevenueChange, account_id: int, values: dict[str, Any]) -> bool:
    return (
        recorded.account_id == account_id
        and recorded.effective_at == values["effective_at"]
        and recorded.mrr == money(values["mrr"])
        and values["kind"] in (None, recorded.kind)
        and recorded.plan == values["plan"]
    )


@transaction.atomic
def revenue_changes_record(*, items: Sequence[Any]) -> IngestResult:
    """Append dated MRR changes (``id``, ``account``, ``mrr``, ``effective_at``, optional
    ``kind``, ``plan``, ``currency``) by the rules of
    :func:`customers.services.revenue_changes_record`: kind inferred, MRR derived, amounts in
    the account's currency converted to the base currency at entry.

    ``id`` is required here: revenue history is append-only, so the id is what makes a
    re-sent batch harmless. The same id with different numbers is refused, not overwritten.
    """
    outcome = Outcome(len(items))
    parsed = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, *_revenue_parse(raw)))
        except ItemError as error:
            outcome.reject(index, error)
    accounts = {
        external: (pk, currency)
        for external, pk, currency in Account.objects.filter(
            external_id__in={account for _, _, account, _ in parsed}
        ).values_list("external_id", "pk", "currency")
    }
    # Lock before looking for recorded ids, so a racing copy of this batch sees ours.
    db.lock_rows(Account, (pk for pk, _ in accounts.values()))
    recorded = {
        change.external_id: change
        for change in RevenueChange.objects.filter(
            external_id__in={external for _, external, _, _ in parsed}
        )
    }
    batch: dict[str, tuple[int, dict[str, Any]]] = {}
    todo: list[tuple[int, RevenueChangeInput]] = []
    for index, external, account, values in parsed:
        if account not in accounts:
            outcome.reject(index, ItemError("account", f"unknown account {account!r}"))
            continue
        account_id, currency = accounts[account]
        if values.get("currency", currency) != currency:
            outcome.reject(
                index, ItemError("currency", f"the account is billed in {currency}; send MRR in it")
            )
            continue
        if external in recorded:
            same = _same_change(recorded[external], account_id, values)
        elif external in batch:
            same = batch[external] == (account_id, values)
        else:
            same = None
        if same is not None:
            if same:
                outcome.duplicate(index)
            else:
                outcome.reject(
                    index,
                    ItemError(
                        "id", "was already recorded with other values; history is append-only"
                    ),
                )
            continue
        batch[external] = (account_id, values)
        todo.append(
            (
                index,
                RevenueChangeInput(
                    account_id=account_id,
                    mrr=values["mrr"],
                    effective_at=values["effective_at"],
                    kind=values["kind"],
                    plan=values["plan"],
                    external_id=external,
                ),
            )
        )
    results = services.revenue_changes_record(changes=[change for _, change in todo])
    for (index, _), result in zip(todo, results, strict=True):
        if isinstance(result, ValidationError):
            outcome.reject(index, error_of(result))
        else:
            outcome.accept(index)
    return outcome.result()
