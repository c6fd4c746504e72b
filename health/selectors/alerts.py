"""Alerts and playbook work as the pages and the account timeline show them."""

from __future__ import annotations

from customers.models import (
    Account,
)
from health.models import (
    Alert,
    AlertEvent,
    AlertStatus,
    EmailStatus,
    PlaybookEmail,
    PlaybookRun,
    Task,
)


def timeline_alerts(account: Account, *, limit: int) -> list:
    """Every alert opened, snoozed, woken and closed, on the account timeline."""
    from customers.timeline import TimelineItem

    items = []
    for event in (
        AlertEvent.objects.filter(account=account)
        .select_related("alert", "by")
        .order_by("-at", "-pk")[:limit]
    ):
        alert = event.alert
        label = alert.get_kind_display()
        who = f" by {event.by}" if event.by_id else ""
        title = {
            "opened": f"Alert opened: {label}",
            "snoozed": f"Alert snoozed{who}: {label}",
            "woke": f"Alert open again after its snooze: {label}",
            "closed": f"Alert closed{who}: {label}",
            "cleared": f"Alert closed by itself, its condition cleared: {label}",
        }.get(event.action, f"Alert {event.action}: {label}")
        body = alert.reason if event.action == "opened" else event.note
        items.append(
            TimelineItem(
                at=event.at,
                kind=f"alert_{event.action}",
                title=title,
                body=body,
                extra={"severity": alert.severity},
            )
        )
    return items


def account_alerts(*, account_id: int, closed: int = 5) -> dict[str, list[Alert]]:
    """An account's open and snoozed alerts (worst first) and its last few closed ones."""
    live = list(Alert.objects.filter(account_id=account_id).live().worst_first())
    done = list(
        Alert.objects.filter(account_id=account_id, status=AlertStatus.CLOSED).order_by(
            "-closed_at", "-pk"
        )[:closed]
    )
    return {"live": live, "closed": done}


def alert_list(
    *,
    owner=None,
    status: str = "live",
    kind: str = "",
    severity: str = "",
):
    """The alerts list page's rows: a queryset the view paginates, the account joined."""
    rows = Alert.objects.select_related("account", "owner")
    if status == "live":
        rows = rows.live()
    elif status:
        rows = rows.filter(status=status)
    if owner is not None:
        rows = rows.filter(owner=owner)
    if kind:
        rows = rows.filter(kind=kind)
    if severity:
        rows = rows.filter(severity=severity)
    return rows.order_by("-opened_at", "-pk")


def timeline_playbooks(account: Account, *, limit: int) -> list:
    """Plays started, their tasks (created and done) and the emails they sent."""
    from customers.timeline import TimelineItem

    items = [
        TimelineItem(at=run.started_at, kind="playbook", title=f"Playbook started: {run.playbook}")
        for run in PlaybookRun.objects.filter(account=account)
        .select_related("playbook")
        .order_by("-started_at", "-pk")[:limit]
    ]
    for task in (
        Task.objects.filter(account=account)
        .select_related("done_by")
        .order_by("-created_at", "-pk")[:limit]
    ):
        items.append(
            TimelineItem(
                at=task.created_at,
                kind="task",
                title=f"Task: {task.title}",
                body=f"due {task.due_on:%Y-%m-%d}",
            )
        )
        if task.done_at is not None:
            who = f" by {task.done_by}" if task.done_by_id else ""
            items.append(
                TimelineItem(
                    at=task.done_at, kind="task_done", title=f"Task done{who}: {task.title}"
                )
            )
    for email in (
        PlaybookEmail.objects.filter(account=account, status=EmailStatus.SENT)
        .select_related("contact")
        .order_by("-sent_at", "-pk")[:limit]
    ):
        items.append(
            TimelineItem(
                at=email.sent_at,
                kind="playbook_email",
                title=f"Email sent: {email.subject}",
                body=f"to {email.contact.name or email.contact.email} ({email.language})",
            )
        )
    return items
