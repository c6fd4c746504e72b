from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from customers.signals import accounts_touched
        from metrics import receivers

        # Sent after commit (customers.signals), so the rebuild sees the new revenue.
        accounts_touched.connect(receivers.on_accounts_touched, dispatch_uid="metrics-touched")
