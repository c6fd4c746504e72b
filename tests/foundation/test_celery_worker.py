"""Production mode: a task enqueued after commit reaches a real Celery worker through Redis."""

import datetime as dt
import os
import time
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from customers.models import Account, RevenueChange
from customers.services import revenue_change_record
from customers.tasks import refresh_account_revenue

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (production mode)"),
    pytest.mark.django_db(transaction=True),
]


def test_a_task_enqueued_after_commit_runs_on_a_real_worker():
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    account = Account.objects.create(external_id="w-1", name="Worker Co")
    revenue_change_record(
        account=account, mrr=Decimal("10"), effective_at=timezone.now() - dt.timedelta(days=3)
    )
    change = revenue_change_record(
        account=account, mrr=Decimal("90"), effective_at=timezone.now() + dt.timedelta(hours=1)
    )
    RevenueChange.objects.filter(pk=change.pk).update(
        effective_at=timezone.now() - dt.timedelta(minutes=1)
    )
    app.conf.task_always_eager = False
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        with transaction.atomic():
            refresh_account_revenue.delay_on_commit()
            time.sleep(0.5)
            account.refresh_from_db()
            assert account.mrr == Decimal("10.00"), "nothing may run before the commit"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            account.refresh_from_db()
            if account.mrr == Decimal("90.00"):
                break
            time.sleep(0.2)
    assert account.mrr == Decimal("90.00")
