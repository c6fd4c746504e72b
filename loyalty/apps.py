from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from loyalty import receivers
        from loyalty.models import Member

        pre_delete.connect(
            receivers.allow_ledger_purge, sender=Member, dispatch_uid="loyalty-ledger-purge"
        )
        self._earning_and_pages_ready()

    def _earning_and_pages_ready(self) -> None:
        """The earning engine hears about new events and survey answers; the account page
        gets its loyalty section."""
        from customers.sections import (
            AccountSection,
            HeaderFact,
            register_header_fact,
            register_section,
        )
        from customers.signals import accounts_touched
        from loyalty import earning_receivers, earning_tasks  # noqa: F401 (registers the tasks)
        from surveys.signals import response_saved

        accounts_touched.connect(
            earning_receivers.on_accounts_touched, dispatch_uid="loyalty-earn-events"
        )
        response_saved.connect(
            earning_receivers.on_response_saved, dispatch_uid="loyalty-earn-survey"
        )
        register_section(
            AccountSection(
                key="loyalty", title="Loyalty", url_name="loyalty:account_panel", order=20
            )
        )
        from customers.timeline import register_source
        from loyalty.selectors_pages import header_fact, timeline_loyalty

        register_header_fact(HeaderFact(key="loyalty", title="Loyalty", value=header_fact))

        register_source("loyalty", timeline_loyalty)
