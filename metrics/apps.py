from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from customers.sections import AccountSection, register_section
        from customers.signals import accounts_touched
        from metrics import receivers
        from metrics.segments import register_segment_fields

        # Sent after commit (customers.signals), so the rebuild sees the new revenue.
        accounts_touched.connect(receivers.on_accounts_touched, dispatch_uid="metrics-touched")
        register_section(
            AccountSection(key="rfm", title="RFM", url_name="metrics:account_rfm", order=20)
        )
        register_segment_fields()
