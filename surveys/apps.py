from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from customers.signals import ticket_closed

        ticket_closed.connect(_on_ticket_closed, dispatch_uid="surveys.send_after_ticket_close")

        from customers.timeline import register_source
        from surveys.receivers import on_response_saved
        from surveys.selectors import account_timeline
        from surveys.signals import response_saved

        response_saved.connect(on_response_saved, dispatch_uid="surveys.close_the_loop")
        register_source("surveys", account_timeline)

        from surveys.segments import register_segment_fields

        register_segment_fields()

        from django.db.models.signals import post_migrate

        from surveys.score_days import triggers_ensure

        post_migrate.connect(triggers_ensure, sender=self, dispatch_uid="surveys-score-days")


def _on_ticket_closed(sender, ticket_id: int, **kwargs) -> None:
    """Transactional surveys (CSAT/CSI) follow a closed ticket; the work happens in a task,
    enqueued only once the close has committed."""
    from surveys.tasks import send_ticket_surveys

    send_ticket_surveys.delay_on_commit(ticket_id)
