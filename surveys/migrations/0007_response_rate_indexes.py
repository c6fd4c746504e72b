"""The response rate without joining every invitation to its answer (issue 12).

A covering index (survey, sent_at) INCLUDE (trigger) answers the "sent" count from the index
alone, and each response gets a copy of its invitation's sent_at (empty for manual links) so the
"answered" count is one index range on (survey, invitation_sent_at). The copy of the existing
answers is one UPDATE, before the new response index is built; the covering index is created
before the plain one it replaces is dropped, so the count always has an index.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_sent_at(apps, schema_editor):
    """Set-based: one UPDATE … SET invitation_sent_at = (SELECT sent_at …) for every answer to
    an emailed invitation."""
    Invitation = apps.get_model("surveys", "Invitation")
    Response = apps.get_model("surveys", "Response")
    sent_at = Invitation.objects.filter(pk=OuterRef("invitation_id")).exclude(trigger="manual")
    Response.objects.filter(invitation_sent_at__isnull=True).update(
        invitation_sent_at=Subquery(sent_at.values("sent_at")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_segment_members_refreshed_at"),
        ("surveys", "0006_campaign_segment_audience"),
    ]

    operations = [
        migrations.AddField(
            model_name="response",
            name="invitation_sent_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(copy_sent_at, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                fields=["survey", "invitation_sent_at"], name="response_survey_sent_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="invitation",
            index=models.Index(
                fields=["survey", "sent_at"], include=("trigger",), name="inv_survey_sent_cover_idx"
            ),
        ),
        migrations.RemoveIndex(
            model_name="invitation",
            name="surveys_inv_survey__66e0dc_idx",
        ),
    ]
