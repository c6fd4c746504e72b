"""Signal receivers for the loyalty app."""

from __future__ import annotations

from django.db import connections


def allow_ledger_purge(sender, instance, using: str, **kwargs) -> None:
    """Deleting a member (with its account) must take its immutable ledger with it: tell the
    PostgreSQL trigger that this transaction may delete entries. ``set_config(..., true)`` is
    local to the transaction that Django's delete runs in."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('tenure.loyalty_purge', 'on', true)")
