"""Management commands behind `make run` (the demo admin's is tested in tests/demo)."""

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_run_scheduled_runs_each_beat_job_once_in_process():
    """The embedded mode's scheduler: a revenue change whose date has come is applied."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import Account, RevenueChange
    from customers.services import revenue_change_record

    account = Account.objects.create(external_id="a-1", name="Acme", currency="USD")
    change = revenue_change_record(
        account=account, mrr=Decimal("120"), effective_at=timezone.now() + dt.timedelta(hours=2)
    )
    RevenueChange.objects.filter(pk=change.pk).update(
        effective_at=timezone.now() - dt.timedelta(minutes=1)
    )
    out = StringIO()
    call_command("run_scheduled", verbosity=2, stdout=out)
    account.refresh_from_db()
    assert account.mrr == Decimal("120.00")
    assert "customers-refresh-account-revenue: 1" in out.getvalue()
    assert "surveys-send-reminders: 0" in out.getvalue()


def test_the_daily_revenue_refresh_heals_accounts_an_outage_left_stale():
    """A change that came due three days ago, while nothing ran: outside the hourly job's
    window, so only the daily run over every account (its entry passes lookback_hours=None)
    applies it."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import Account, RevenueChange
    from customers.services import revenue_change_record

    account = Account.objects.create(external_id="a-1", name="Acme", currency="USD")
    change = revenue_change_record(
        account=account, mrr=Decimal("80"), effective_at=timezone.now() + dt.timedelta(hours=2)
    )
    RevenueChange.objects.filter(pk=change.pk).update(
        effective_at=timezone.now() - dt.timedelta(days=3)
    )

    call_command("run_scheduled", only=["customers-refresh-account-revenue"], stdout=StringIO())
    account.refresh_from_db()
    assert account.mrr == Decimal("0.00")
    call_command("run_scheduled", only=["customers-refresh-all-account-revenue"], stdout=StringIO())
    account.refresh_from_db()
    assert account.mrr == Decimal("80.00")


def test_run_scheduled_refuses_an_unknown_entry_and_names_the_known_ones():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"Unknown schedule entries: nope.*surveys-send"):
        call_command("run_scheduled", only=["nope"])


def test_run_scheduled_reports_a_failing_job_and_still_runs_the_others(monkeypatch):
    from django.core.management.base import CommandError

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("customers.tasks.accounts_refresh_revenue", broken)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 scheduled job"):  # the hourly and daily refresh
        call_command("run_scheduled", verbosity=2, stdout=out, stderr=err)
    assert "customers-refresh-account-revenue: failed: RuntimeError('boom')" in err.getvalue()
    assert "surveys-send-reminders: 0" in out.getvalue()


def test_run_scheduled_knows_which_jobs_are_due():
    from datetime import timedelta

    from accounts.management.commands.run_scheduled import due_entries, interval_seconds

    assert due_entries({"a": 10.0, "b": 30.0, "c": 20.0}, now=20.0) == ["a", "c"]
    assert interval_seconds(60) == 60.0
    assert interval_seconds(timedelta(hours=1)) == 3600.0
