"""``manage.py reconcile_loyalty [--fix]``: prove the cached balances equal the ledger.

Rebuilds every member's balance, pending points and debt from its entries and lots, and every
lot's remaining points from its allocations, in a few set-based queries, and reports each
disagreement (0 expected). Exits 1 when there was any, so a cron job or CI notices; ``--fix``
then rewrites the members' cached figures from the entries (lots are reported, never guessed).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from loyalty.selectors import ledger_mismatches
from loyalty.services.reconcile import members_rebuild

SHOWN = 50


class Command(BaseCommand):
    help = "Rebuild every loyalty balance from the ledger entries and report mismatches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="rewrite mismatched members' cached balances"
        )

    def handle(self, *args, **options) -> None:
        found = ledger_mismatches()
        members = list(found.members[:SHOWN])
        member_count = found.members.count() if len(members) == SHOWN else len(members)
        lots = list(found.lots[:SHOWN])
        lot_count = found.lots.count() if len(lots) == SHOWN else len(lots)
        for member in members:
            self.stdout.write(
                f"member {member.pk} ({member.account}): balance {member.balance} "
                f"(lots say {member.active_points}), pending {member.pending} "
                f"(lots say {member.pending_points}), debt {member.debt} "
                f"(entries say {member.entries_debt}), entries sum {member.entries_points}"
            )
        for lot in lots:
            self.stdout.write(
                f"lot {lot.pk} of member {lot.member_id}: remaining {lot.remaining}, "
                f"amount {lot.amount} less allocations {lot.allocated} = "
                f"{lot.amount - lot.allocated}"
            )
        self.stdout.write(
            f"mismatches={member_count + lot_count} members={member_count} lots={lot_count}"
        )
        if member_count and options["fix"]:
            fixed = members_rebuild(member_ids=list(found.members.values_list("pk", flat=True)))
            self.stdout.write(f"fixed={fixed}")
        if member_count + lot_count:
            raise SystemExit(1)
