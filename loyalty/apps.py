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
