"""Writes for health: recompute the day's snapshots, override a score, set CSM sentiment.

A recompute works in chunks of accounts: a fixed handful of reads per chunk
(health.selectors.health_inputs) and one upsert of the chunk's snapshots keyed by (account,
day). A rerun on the same day replaces the snapshots; a run killed mid-way leaves whole
chunks behind and a rerun redoes the rest, so it is safe to run twice and safe to kill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import db
from core.iterables import batched
from customers.models import Account
from health import scoring
from health.models import (
    CsmSentiment,
    HealthDirty,
    HealthOverride,
    HealthProfile,
    HealthSnapshot,
    Sentiment,
    Source,
)
from health.selectors import health_inputs, overrides_in_force, snapshots_before

CHUNK_SIZE = 500
SNAPSHOT_COLUMNS = ["score", "band", "components", "profile_id", "source", "computed_at"]


@dataclass(frozen=True)
class _Profile:
    """A profile as the recompute needs it: its segment rule and its scoring spec."""

    pk: int
    is_default: bool
    max_age_days: int | None
    stages: frozenset[str]
    spec: scoring.ProfileSpec

    def takes(self, account: dict) -> bool:
        if self.max_age_days is not None and account["age_days"] >= self.max_age_days:
            return False
        return not self.stages or account["stage"] in self.stages


def _profiles() -> list[_Profile]:
    """Every profile, specific segments first and the default last, read in three queries."""
    loaded = []
    for profile in HealthProfile.objects.prefetch_related("groups__measures"):
        groups = [
            scoring.GroupSpec(
                name=group.name,
                weight=float(group.weight),
                measures=[measure.spec() for measure in group.measures.all()],
            )
            for group in profile.groups.all()
        ]
        loaded.append(
            _Profile(
                pk=profile.pk,
                is_default=profile.is_default,
                max_age_days=profile.max_account_age_days,
                stages=frozenset(profile.stages or []),
                spec=scoring.ProfileSpec(
                    name=profile.name,
                    groups=groups,
                    red_max=profile.red_max,
                    yellow_max=profile.yellow_max,
                ),
            )
        )
    loaded.sort(key=lambda p: p.is_default)  # stable: priority order kept within each side
    return loaded


def _profile_for(profiles: Sequence[_Profile], account: dict) -> _Profile | None:
    specific = next((p for p in profiles if not p.is_default and p.takes(account)), None)
    return specific or next((p for p in profiles if p.is_default), None)


def _chunk_snapshots(
    account_ids: Sequence[int], *, day: dt.date, now: dt.datetime, profiles: Sequence[_Profile]
) -> list[HealthSnapshot]:
    inputs = health_inputs(account_ids=account_ids, day=day)
    overrides = overrides_in_force(account_ids=account_ids, at=now)
    churned = [pk for pk, raw in inputs.items() if raw["_account"]["churned"]]
    frozen_at = snapshots_before(account_ids=churned, day=day) if churned else {}
    snapshots = []
    for account_id, raw in inputs.items():
        last = frozen_at.get(account_id)
        if last is not None:  # churned: frozen at the last score it had
            snapshots.append(
                HealthSnapshot(
                    account_id=account_id,
                    day=day,
                    score=last.score,
                    band=last.band,
                    components=last.components,
                    profile_id=last.profile_id,
                    source=Source.FROZEN,
                    computed_at=now,
                )
            )
            continue
        profile = _profile_for(profiles, raw["_account"])
        if profile is None:
            continue
        scored = scoring.score_account(profile.spec, raw)
        score, band, source = scored.score, scored.band, Source.COMPUTED
        components = scored.components
        override = overrides.get(account_id)
        if override is not None:
            components = {
                **components,
                "override": {
                    "computed_score": scored.score,
                    "reason": override.reason,
                    "expires_at": override.expires_at.isoformat(),
                },
            }
            score, source = override.score, Source.OVERRIDE
            band = scoring.band_of(
                score, red_max=profile.spec.red_max, yellow_max=profile.spec.yellow_max
            )
        snapshots.append(
            HealthSnapshot(
                account_id=account_id,
                day=day,
                score=score,
                band=band,
                components=components,
                profile_id=profile.pk,
                source=source,
                computed_at=now,
            )
        )
    return snapshots


def _snapshots_upsert(snapshots: list[HealthSnapshot]) -> None:
    """Insert or replace the chunk's snapshots on (account, day): one statement with the rows
    as arrays (core.db.run_with_rows). Django's bulk_create quotes a jsonb array of 500
    components into the SQL text, character by character, which was half of a nightly
    recompute's time (benchmarks/health_recompute.py)."""
    table = HealthSnapshot._meta.db_table
    updates = ", ".join(f"{column} = excluded.{column}" for column in SNAPSHOT_COLUMNS)
    db.run_with_rows(
        f"INSERT INTO {table} (account_id, day, {', '.join(SNAPSHOT_COLUMNS)}) "  # noqa: S608
        f"SELECT v.account_id, v.day, {', '.join(f'v.{c}' for c in SNAPSHOT_COLUMNS)} "
        f"FROM {{rows}} WHERE true ON CONFLICT (account_id, day) DO UPDATE SET {updates}",
        [
            ("account_id", "bigint"),
            ("day", "date"),
            ("score", "int"),
            ("band", "text"),
            ("components", "jsonb"),
            ("profile_id", "bigint"),
            ("source", "text"),
            ("computed_at", "timestamptz"),
        ],
        [
            (
                s.account_id,
                s.day,
                s.score,
                s.band,
                orjson.dumps(s.components).decode(),
                s.profile_id,
                s.source,
                s.computed_at,
            )
            for s in snapshots
        ],
    )


def _accounts_mark(account_ids: list[int], *, day: dt.date) -> None:
    """Copy the day's score and band onto the accounts (one UPDATE for the chunk), where the
    portfolio filters and sorts by them."""
    todays = HealthSnapshot.objects.filter(account=OuterRef("pk"), day=day)
    Account.objects.filter(pk__in=account_ids).update(
        health_score=Subquery(todays.values("score")[:1]),
        health_band=Coalesce(Subquery(todays.values("band")[:1]), Value("")),
    )


def health_recompute(
    *,
    account_ids: Iterable[int] | None = None,
    day: dt.date | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Compute and store the day's snapshot of the given accounts (all when None); returns
    how many snapshots were written. ``progress`` hears each chunk's size as it commits."""
    now = timezone.now()
    day = day or timezone.localdate(now)
    everyone = account_ids is None
    if everyone:
        ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(account_ids))
    profiles = _profiles()
    written = 0
    for chunk in batched(ids, chunk_size):
        snapshots = _chunk_snapshots(chunk, day=day, now=now, profiles=profiles)
        with transaction.atomic():
            _snapshots_upsert(snapshots)
            if day == timezone.localdate(now):
                _accounts_mark(chunk, day=day)
        written += len(snapshots)
        if progress is not None:
            progress(len(chunk))
    if everyone:
        # Every account is scored now: the marks made before this run began are covered (and
        # only now, so a run killed half-way leaves them for the incremental recompute).
        HealthDirty.objects.filter(marked_at__lte=now).delete()
    return written


def health_override_create(
    *, account: Account, score: int, reason: str, expires_at: dt.datetime, user=None
) -> HealthOverride:
    """Replace an account's computed score with a CSM's judgement until ``expires_at``; the
    day's snapshot shows it at once."""
    override = HealthOverride(
        account=account, score=score, reason=reason.strip(), expires_at=expires_at, created_by=user
    )
    override.full_clean()
    override.save()
    health_recompute(account_ids=[account.pk])  # one account: the page shows it at once
    return override


def csm_sentiment_set(*, account: Account, value: int, note: str = "", user=None) -> CsmSentiment:
    if value not in Sentiment.values:
        raise ValidationError({"value": "Choose poor, fair or good."})
    sentiment, _ = CsmSentiment.objects.update_or_create(
        account=account,
        defaults={"value": value, "note": note.strip(), "set_by": user, "set_at": timezone.now()},
    )
    health_recompute(account_ids=[account.pk])
    return sentiment


DIRTY_BATCH = 5000


def health_mark_dirty(*, account_ids: Iterable[int]) -> int:
    """Mark accounts for the incremental recompute: one statement with the ids as one array,
    since it runs after every ingest batch. A mark that exists is moved to now, so a change
    after a recompute read its rows is not lost."""
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    now = timezone.now()
    table = HealthDirty._meta.db_table
    db.run_with_rows(
        f"INSERT INTO {table} (account_id, marked_at) "  # noqa: S608
        "SELECT v.account_id, %s FROM {rows} WHERE true "
        "ON CONFLICT (account_id) DO UPDATE SET marked_at = excluded.marked_at",
        [("account_id", "bigint")],
        [(pk,) for pk in ids],
        before=[now],
    )
    return len(ids)


def health_recompute_dirty(*, limit: int = DIRTY_BATCH) -> int:
    """Score the marked accounts and clear their marks, in one transaction: killed mid-way, it
    leaves the marks for the next run; marks made while it ran (later ``marked_at``) stay.
    Two runs at once take different rows (SKIP LOCKED on PostgreSQL)."""
    started = timezone.now()
    with transaction.atomic():
        marked = HealthDirty.objects.filter(marked_at__lte=started).order_by("account_id")
        if connection.features.has_select_for_update_skip_locked:
            marked = marked.select_for_update(skip_locked=True)
        ids = list(marked.values_list("account_id", flat=True)[:limit])
        if not ids:
            return 0
        health_recompute(account_ids=ids)
        HealthDirty.objects.filter(account_id__in=ids, marked_at__lte=started).delete()
    return len(ids)
