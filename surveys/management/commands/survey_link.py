"""Create one survey link for a contact and print it: how an admin tries a survey on themself.

    python manage.py survey_link --survey nps --contact someone@example.com [--force]

The fatigue rules apply unless ``--force``; an unsubscribed contact or an inactive survey is
refused either way. The token is printed once and never stored.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from customers.models import Contact
from surveys.emails import answer_url
from surveys.models import Invitation, SendSkip, Survey
from surveys.services import invitation_create


class Command(BaseCommand):
    help = "Create an invitation for a contact and print its absolute survey URL."

    def add_arguments(self, parser):
        parser.add_argument("--survey", required=True, help="Survey slug, e.g. nps")
        parser.add_argument("--contact", required=True, help="Contact email address")
        parser.add_argument(
            "--force", action="store_true", help="Ignore the fatigue rules (for testing)."
        )

    def handle(self, *args, survey: str, contact: str, force: bool, **options):
        found = Survey.objects.filter(slug=survey).first()
        if found is None:
            slugs = ", ".join(Survey.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No survey with slug {survey!r}. Known slugs: {slugs or 'none'}.")
        people = list(Contact.objects.filter(email__iexact=contact.strip()).order_by("pk")[:2])
        if not people:
            raise CommandError(f"No contact with email {contact!r}.")
        if len(people) > 1:
            self.stderr.write(
                f"Several contacts use {contact}; using the first one (id {people[0].pk})."
            )
        invitation, token, reason = invitation_create(
            survey=found, contact=people[0], trigger=Invitation.Trigger.MANUAL, force=force
        )
        if invitation is None:
            label = SendSkip.Reason(reason).label
            hint = " Use --force to ignore it." if reason == SendSkip.Reason.FATIGUE else ""
            raise CommandError(f"Not created: {label}.{hint}")
        self.stdout.write(answer_url(token))
