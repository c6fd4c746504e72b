"""``manage.py recompute_health [--account EXTERNAL_ID] [--day YYYY-MM-DD]``: the nightly
recompute by hand, in this process, with a progress line."""

from __future__ import annotations

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.models import Account
from health.services import health_recompute


class Command(BaseCommand):
    help = "Recompute today's health snapshot of every account (or one, by external id)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", metavar="EXTERNAL_ID", help="only this account")
        parser.add_argument("--day", help="the day to write (YYYY-MM-DD); default today")

    def handle(self, *args, **options) -> None:
        day = None
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError:
                raise CommandError(
                    f"--day {options['day']!r} is not a date like 2026-12-05."
                ) from None
        account_ids = None
        if options["account"]:
            account = Account.objects.filter(external_id=options["account"]).first()
            if account is None:
                raise CommandError(f"No account has external id {options['account']!r}.")
            account_ids = [account.pk]
        total = 1 if account_ids else Account.objects.count()
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if options["verbosity"] > 0:
                width = 30
                filled = width * done // max(total, 1)
                bar = "#" * filled + "." * (width - filled)
                sys.stderr.write(f"\r[{bar}] {done}/{total} accounts")
                sys.stderr.flush()

        written = health_recompute(account_ids=account_ids, day=day, progress=progress)
        if options["verbosity"] > 0:
            sys.stderr.write("\n")
        self.stdout.write(f"Wrote {written} health snapshots.")
