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
from django.utils import timezone

from core import db
from core.iterables import batched
from customers.models import Account
from health import risk, scoring
from health.models import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertStatus,
    CsmSentiment,
    HealthDirty,
    HealthOverride,
    HealthProfile,
    HealthSnapshot,
    Sentiment,
    SignalRule,
    Source,
)
from health.playbooks import playbooks_on_alerts
from health.selectors import (
    chunk_filter,
    health_inputs,
    overrides_in_force,
    signal_facts,
    snapshots_before,
)

# Accounts per chunk (and per task of the nightly run): each chunk costs a fixed handful of
# queries, so bigger chunks mean fewer round trips; 2,000 halved the nightly run against 500
# on PostgreSQL (benchmarks/health_recompute.py) and keeps a chunk's rows a few MB.
CHUNK_SIZE = 2000
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
    inputs: dict[int, dict],
    *,
    day: dt.date,
    now: dt.datetime,
    profiles: Sequence[_Profile],
    span: tuple[int, int] | None = None,
) -> list[HealthSnapshot]:
    account_ids = list(inputs)
    overrides = overrides_in_force(account_ids=account_ids, at=now, span=span)
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


def _accounts_mark(inputs: dict[int, dict], snapshots: Sequence[HealthSnapshot]) -> None:
    """Copy the day's score and band onto the chunk's accounts (one UPDATE from the values in
    hand, not a subquery per account), where the portfolio filters and sorts by them. An
    account without a snapshot (no profile takes it) is left unscored."""
    scored = {s.account_id: (s.score, s.band) for s in snapshots}
    table = Account._meta.db_table
    db.run_with_rows(
        f"UPDATE {table} SET health_score = v.score, health_band = v.band "  # noqa: S608
        f"FROM {{rows}} WHERE {table}.id = v.id",
        [("id", "bigint"), ("score", "int"), ("band", "text")],
        [(pk, *scored.get(pk, (None, ""))) for pk in inputs],
    )


def health_recompute(
    *,
    account_ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
    day: dt.date | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Compute and store the day's snapshot of the given accounts (all when None, or every
    account with an id in ``id_range``); returns how many snapshots were written.
    ``progress`` hears each chunk's size as it commits."""
    now = timezone.now()
    day = day or timezone.localdate(now)
    everyone = account_ids is None and id_range is None
    whole = account_ids is None  # every account, or every account of an id range
    accounts = Account.objects.order_by("pk")
    if id_range is not None:
        accounts = accounts.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    ids = list(accounts.values_list("pk", flat=True)) if whole else sorted(set(account_ids))
    profiles = _profiles()
    # Alerts follow today's state only: a recompute of a past day leaves them alone.
    rules = signal_rules() if day == timezone.localdate(now) else None
    written = 0
    for chunk in batched(ids, chunk_size):
        # Every account, or a whole id range: the chunk is all accounts within its bounds.
        span = (chunk[0], chunk[-1]) if whole else None
        inputs = health_inputs(account_ids=chunk, day=day, span=span)
        snapshots = _chunk_snapshots(inputs, day=day, now=now, profiles=profiles, span=span)
        found = None
        if rules is not None:
            scores = {s.account_id: (s.score, s.band) for s in snapshots}
            facts = signal_facts(inputs=inputs, day=day, rules=rules, scores=scores, span=span)
            found = {pk: risk.findings(rules, f, day=day) for pk, f in facts.items()}
        with transaction.atomic():
            _snapshots_upsert(snapshots)
            if day == timezone.localdate(now):
                _accounts_mark(inputs, snapshots)
            if found is not None:
                owners = {pk: raw["_account"]["owner_id"] for pk, raw in inputs.items()}
                alerts_sync(found=found, owners=owners, now=now, span=span)
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


# --- alerts ------------------------------------------------------------------------------------


def signal_rules() -> list[risk.RuleSpec]:
    """The enabled signal rules, as the pure checks take them (one query per recompute)."""
    return [
        risk.RuleSpec(
            kind=rule.kind,
            severity=rule.severity,
            threshold=None if rule.threshold is None else float(rule.threshold),
            window_days=rule.window_days,
            event_types=tuple(str(t) for t in rule.event_types or ()),
            bands=tuple(str(b) for b in rule.bands or ()),
        )
        for rule in SignalRule.objects.filter(enabled=True)
    ]


def _alert_events(
    alerts: Iterable[Alert], action: str, *, at: dt.datetime, note: str = "", by=None
):
    AlertEvent.objects.bulk_create(
        [
            AlertEvent(
                alert=alert, account_id=alert.account_id, action=action, note=note, by=by, at=at
            )
            for alert in alerts
        ]
    )


def alerts_sync(
    *,
    found: dict[int, list[risk.Finding]],
    owners: dict[int, int | None],
    now: dt.datetime,
    span: tuple[int, int] | None = None,
) -> dict[str, int]:
    """Bring the alerts of the accounts in ``found`` (every account of a chunk, with what
    holds for it today) in line: open what is new, refresh the numbers of what still holds,
    wake what a snooze no longer covers, close what cleared. Run inside the chunk's
    transaction. The live alerts are locked first, so two recomputes of the same account
    wait for each other; the partial unique index is the last word on duplicates."""
    ids = list(found)
    live = {
        (alert.account_id, alert.kind): alert
        for alert in Alert.objects.select_for_update()
        .filter(chunk_filter(ids, span))
        .live()
        .order_by("pk")
        if alert.account_id in found
    }
    new, changed, woke, cleared = [], [], [], []
    for account_id, findings in found.items():
        owner_id = owners.get(account_id)
        for finding in findings:
            alert = live.pop((account_id, finding.kind), None)
            if alert is None:
                new.append(
                    Alert(
                        account_id=account_id,
                        kind=finding.kind,
                        severity=finding.severity,
                        reason=finding.reason[:500],
                        facts=finding.facts,
                        owner_id=owner_id,
                        opened_at=now,
                    )
                )
                continue
            fresh = (finding.severity, finding.reason[:500], finding.facts, owner_id)
            if (alert.severity, alert.reason, alert.facts, alert.owner_id) != fresh:
                alert.severity, alert.reason, alert.facts, alert.owner_id = fresh
                changed.append(alert)
            if alert.status == AlertStatus.SNOOZED and alert.snoozed_until <= now:
                alert.status, alert.snoozed_until = AlertStatus.OPEN, None
                woke.append(alert)
    cleared = list(live.values())  # live alerts whose condition no longer holds
    for alert in cleared:
        alert.status, alert.snoozed_until, alert.closed_at = AlertStatus.CLOSED, None, now
    updates = {alert.pk: alert for alert in [*changed, *woke, *cleared]}
    if updates:
        Alert.objects.bulk_update(
            updates.values(),
            ["severity", "reason", "facts", "owner", "status", "snoozed_until", "closed_at"],
        )
    if new:
        Alert.objects.bulk_create(new, ignore_conflicts=True)
        # What this run inserted (a concurrent run's rows carry another opened_at).
        new = list(Alert.objects.filter(account_id__in=ids, opened_at=now, status="open"))
    _alert_events(new, AlertAction.OPENED, at=now)
    _alert_events(woke, AlertAction.WOKE, at=now)
    _alert_events(cleared, AlertAction.CLEARED, at=now)
    playbooks_on_alerts(opened=new, cleared=cleared, now=now)
    return {"opened": len(new), "woke": len(woke), "cleared": len(cleared)}


MAX_SNOOZE = dt.timedelta(days=180)


def _locked_live(alert_id: int) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None or alert.status == AlertStatus.CLOSED:
        raise ValidationError("This alert is closed already.")
    return alert


@transaction.atomic
def alert_snooze(*, alert_id: int, until: dt.datetime, user=None, note: str = "") -> Alert:
    """Quiet an alert until ``until``: it stays (no duplicate opens meanwhile) and comes back
    open then if its condition still holds; it closes by itself if it clears."""
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "Snooze until a time in the future."})
    if until - now > MAX_SNOOZE:
        raise ValidationError({"until": "Snooze for at most 180 days."})
    alert = _locked_live(alert_id)
    alert.status, alert.snoozed_until = AlertStatus.SNOOZED, until
    alert.save(update_fields=["status", "snoozed_until"])
    text = f"until {until:%Y-%m-%d %H:%M} UTC" + (f": {note.strip()}" if note.strip() else "")
    _alert_events([alert], AlertAction.SNOOZED, at=now, note=text[:500], by=user)
    return alert


@transaction.atomic
def alert_close(*, alert_id: int, user=None, note: str = "") -> Alert:
    """A CSM's "handled". Should the condition still hold at the next recompute, a new alert
    opens: snoozing is how to quiet a signal that is known and being worked on."""
    now = timezone.now()
    alert = _locked_live(alert_id)
    alert.status, alert.snoozed_until, alert.closed_at = AlertStatus.CLOSED, None, now
    alert.save(update_fields=["status", "snoozed_until", "closed_at"])
    _alert_events([alert], AlertAction.CLOSED, at=now, note=note.strip()[:500], by=user)
    return alert


def alerts_wake(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Snoozes that ended become open again (the timeline says so): set-based, in batches."""
    now = now or timezone.now()
    woken = 0
    while True:
        with transaction.atomic():
            due = Alert.objects.filter(status=AlertStatus.SNOOZED, snoozed_until__lte=now)
            if connection.features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            alerts = list(due.order_by("pk")[:limit])
            if not alerts:
                return woken
            Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(
                status=AlertStatus.OPEN, snoozed_until=None
            )
            _alert_events(alerts, AlertAction.WOKE, at=now)
            woken += len(alerts)
