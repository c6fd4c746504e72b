from django.apps import AppConfig


class HealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "health"
    verbose_name = "Health scores"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from customers.sections import AccountSection, register_section
        from customers.signals import accounts_touched, segment_entered
        from customers.timeline import register_source
        from health import receivers
        from health.defaults import playbooks_ensure, profiles_ensure, signal_rules_ensure
        from health.selectors import timeline_alerts, timeline_playbooks
        from surveys.signals import response_saved

        post_migrate.connect(profiles_ensure, sender=self, dispatch_uid="health-profiles")
        post_migrate.connect(signal_rules_ensure, sender=self, dispatch_uid="health-rules")
        post_migrate.connect(playbooks_ensure, sender=self, dispatch_uid="health-playbooks")
        accounts_touched.connect(receivers.on_accounts_touched, dispatch_uid="health-touched")
        response_saved.connect(receivers.on_response_saved, dispatch_uid="health-answer")
        segment_entered.connect(receivers.on_segment_entered, dispatch_uid="health-segment")

        register_section(
            AccountSection(key="health", title="Health", url_name="health:account_panel", order=10)
        )
        register_section(
            AccountSection(key="alerts", title="Alerts", url_name="health:account_alerts", order=11)
        )
        register_source("health.alerts", timeline_alerts)
        register_source("health.playbooks", timeline_playbooks)
