from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo company behind ``make run``: it builds on the domain apps (their models and
    services), and none of them imports it."""

    name = "demo"
    verbose_name = "Demo data"
