"""Run the beat schedule's jobs in this process: ``manage.py run_scheduled [--loop]``.

The embedded mode has no broker, so no Celery beat: without this, campaigns, queued survey
emails, reminders and the answer outbox would never run there. ``make run`` starts it with
``--loop`` beside the web server; it is also handy once, by hand or from cron, on any install.
Production runs ``celery beat`` instead. The schedule itself lives only in
``config/celery.py``; every job is idempotent, so running one here and in a worker is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import current_app as app
from celery.schedules import schedule as celery_schedule
from django.core.management.base import BaseCommand, CommandError, CommandParser


def interval_seconds(every) -> float:
    """A beat entry's period in seconds (numbers, timedeltas and plain Celery schedules)."""
    if isinstance(every, int | float):
        return float(every)
    if isinstance(every, dt.timedelta):
        return every.total_seconds()
    if type(every) is celery_schedule:
        return every.run_every.total_seconds()
    raise CommandError(f"run_scheduled only knows fixed intervals, not {every!r}.")


def due_entries(next_at: dict[str, float], now: float) -> list[str]:
    """The entries whose time has come, in schedule order."""
    return [name for name, at in next_at.items() if at <= now]


class Command(BaseCommand):
    help = (
        "Run the beat schedule's jobs in this process: each once, or with --loop each time "
        "it is due (the embedded mode's scheduler; production runs celery beat)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help="keep running, each job when it is due"
        )
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="ENTRY",
            help="run only this beat entry (repeatable)",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        if self.verbosity < 2:  # one INFO line per job every few seconds drowns the server's
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        app.loader.import_default_modules()  # registers every app's tasks
        schedule = app.conf.beat_schedule
        names = options["only"] or list(schedule)
        unknown = sorted(set(names) - set(schedule))
        if unknown:
            raise CommandError(
                f"Unknown schedule entries: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(schedule))}."
            )
        periods = {name: interval_seconds(schedule[name]["schedule"]) for name in names}
        if not options["loop"]:
            failures = sum(not self._run(name, schedule[name]) for name in names)
            if failures:
                raise CommandError(f"{failures} scheduled job(s) failed; see above.")
            return
        self.stdout.write(f"Running {len(names)} scheduled jobs as they fall due (Ctrl-C stops).")
        next_at = dict.fromkeys(names, time.monotonic())
        try:
            while True:
                now = time.monotonic()
                for name in due_entries(next_at, now):
                    self._run(name, schedule[name])
                    next_at[name] = now + periods[name]
                time.sleep(max(0.5, min(next_at.values()) - time.monotonic()))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def _run(self, name: str, entry: dict) -> bool:
        """One job, inline, with its entry's arguments; a failure is reported and the others
        still run."""
        task = app.tasks.get(entry["task"])
        if task is None:
            self.stderr.write(f"{name}: task {entry['task']} is not registered")
            return False
        try:
            result = task.apply(
                args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True
            )
        except Exception as error:  # reported, and the other jobs still run
            self.stderr.write(f"{name}: failed: {error!r}")
            return False
        if self.verbosity > 1:
            self.stdout.write(f"{name}: {result.result!r}")
        return True
