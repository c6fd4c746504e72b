from django.apps import AppConfig


class HealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "health"
    verbose_name = "Health scores"

    def ready(self) -> None:
        from customers.sections import AccountSection, register_section

        register_section(
            AccountSection(key="health", title="Health", url_name="health:account_panel", order=10)
        )
