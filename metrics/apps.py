from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from customers.sections import AccountSection, register_section
        from metrics.segments import register_segment_fields

        register_section(
            AccountSection(key="rfm", title="RFM", url_name="metrics:account_rfm", order=20)
        )
        register_segment_fields()
