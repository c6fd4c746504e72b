"""``manage.py create_api_key NAME``: a key for the ingest API, printed once.

The key alone goes to stdout so a script can capture it; the advice goes to stderr.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from customers.services import api_key_create


class Command(BaseCommand):
    help = "Create an ingest API key and print it once (only its SHA-256 is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who or what uses the key, e.g. 'billing sync'.")

    def handle(self, *args, name: str, **options):
        try:
            api_key, key = api_key_create(name=name)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(key)
        self.stderr.write(
            f"Created API key “{api_key.name}” ({api_key.prefix}…). Copy it now: it is not "
            "stored and will not be shown again. Send it as Authorization: Bearer <key>."
        )
