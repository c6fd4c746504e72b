"""Surveys as our users know them from Delighted and Qualtrics: a survey of one kind, sent as
per-recipient invitations, each answered at most once (editable until the survey closes).

Raw answers are stored; every score (NPS, CSAT %, CES, CLI, CSI) is computed on read, so a
change of formula never needs a data migration. See docs/domain/survey-metrics.md, survey-links.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Account, Contact, Locale, Segment, Ticket


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net Promoter Score (0–10)"
    CSAT = "csat", "Customer satisfaction (1–5)"
    CES = "ces", "Customer effort (1–7)"
    CLI = "cli", "Customer Loyalty Index (3 × 0–10)"
    CSI = "csi", "Customer Satisfaction Index (importance × satisfaction)"


# The scale of the single score of each kind; CLI and CSI answer several items on these scales.
SCALES: dict[str, tuple[int, int]] = {
    SurveyKind.NPS: (0, 10),
    SurveyKind.CSAT: (1, 5),
    SurveyKind.CES: (1, 7),
    SurveyKind.CLI: (0, 10),
    SurveyKind.CSI: (1, 10),
}
CLI_ITEMS = ("recommend", "buy_again", "try_other")
DEFAULT_CSI_CRITERIA = ("price", "service_quality", "functionality", "reliability", "support")
# The kinds that ask about one interaction, so may follow a closed ticket (issue 4); NPS, CES
# and CLI ask about the relationship and go out by campaign.
TICKET_SURVEY_KINDS = (SurveyKind.CSAT, SurveyKind.CSI)


class Survey(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=SurveyKind.choices)
    is_active = models.BooleanField(default=True)
    closes_at = models.DateTimeField(
        null=True, blank=True, help_text="Answers can be edited until then; empty = open."
    )
    expiry_days = models.PositiveSmallIntegerField(
        default=60, help_text="Links expire this many days after sending."
    )
    fatigue_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Do not survey a contact again within N days (empty = the default, 90).",
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        default=5, help_text="One reminder to non-responders after N days; 0 = no reminder."
    )
    ask_follow_up = models.BooleanField(default=True, help_text="Ask an open follow-up question.")
    csi_criteria = models.JSONField(
        default=list,
        blank=True,
        help_text="CSI only: criterion keys; empty = price, service quality, functionality, "
        "reliability, support.",
    )
    send_after_ticket_close = models.BooleanField(
        default=False, help_text="CSAT/CSI: send after each closed ticket (transactional)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.send_after_ticket_close and self.kind not in TICKET_SURVEY_KINDS:
            raise ValidationError(
                {
                    "send_after_ticket_close": "Only CSAT and CSI surveys ask about a closed "
                    "ticket; NPS, CES and CLI ask about the relationship and go out by campaign."
                }
            )

    @property
    def criteria(self) -> list[str]:
        return list(self.csi_criteria or DEFAULT_CSI_CRITERIA)

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.closes_at is None or at < self.closes_at


class SurveyText(models.Model):
    """Every text a respondent reads, per language. ``items`` holds labels of CLI questions or
    CSI criteria by key."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=10, choices=Locale.choices)
    question = models.TextField()
    follow_up_question = models.TextField(blank=True)
    follow_up_promoter = models.TextField(blank=True, help_text="NPS promoters (9–10).")
    follow_up_passive = models.TextField(blank=True, help_text="NPS passives (7–8).")
    follow_up_detractor = models.TextField(blank=True, help_text="NPS detractors (0–6).")
    thank_you = models.TextField()
    email_subject = models.CharField(max_length=200)
    email_intro = models.TextField()
    low_label = models.CharField(max_length=80, blank=True)
    high_label = models.CharField(max_length=80, blank=True)
    items = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "language"], name="survey_text_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.survey} [{self.language}]"


class Campaign(models.Model):
    class Audience(models.TextChoices):
        ALL_CONTACTS = "all", "All active contacts"
        ACCOUNTS = "accounts", "Contacts of chosen accounts"
        SEGMENT = "segment", "Contacts of accounts in a segment"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    audience = models.CharField(max_length=20, choices=Audience.choices, default="all")
    accounts = models.ManyToManyField(Account, blank=True, related_name="+")
    # PROTECT, not SET_NULL: a scheduled or recurring campaign whose segment vanished would
    # otherwise be left with no audience to resolve at its next run (or, worse, fall back to
    # everyone). Deleting a segment in use is refused with the campaigns named instead.
    segment = models.ForeignKey(
        Segment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text="For the segment audience: who matches is worked out at each run.",
    )
    sample_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Share of the audience to invite, 1–100."
    )
    spread_days = models.PositiveSmallIntegerField(
        default=0, help_text="Spread the sends evenly over this many days (0 = all at once)."
    )
    repeat_every_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty = one-off."
    )
    starts_at = models.DateTimeField(default=timezone.now)
    next_run_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default="scheduled")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gte=1, sample_percent__lte=100),
                name="campaign_sample_percent_range",
            ),
            models.CheckConstraint(
                condition=~Q(audience="segment") | Q(segment__isnull=False),
                name="campaign_segment_audience_has_segment",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.audience == self.Audience.SEGMENT and self.segment_id is None:
            raise ValidationError({"segment": "Choose the segment whose accounts to survey."})
        if self.audience != self.Audience.SEGMENT and self.segment_id is not None:
            raise ValidationError(
                {"segment": "A segment is used only with the audience “accounts in a segment”."}
            )


class CampaignRun(models.Model):
    """One scheduled run of a campaign. Unique per (campaign, run_at), so a run replayed by a
    second worker or a re-fired beat finds its key taken and invites nobody twice."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    run_at = models.DateTimeField(help_text="The scheduled time this run stands for.")
    started_at = models.DateTimeField(default=timezone.now)
    invited = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-run_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "run_at"], name="campaign_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} @ {self.run_at:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    """One recipient's link. Only the SHA-256 of the token is stored (docs/domain/survey-links.md).

    The token in an email is minted when the email is sent (a queued invitation holds the hash
    of a token nobody has). The reminder carries a second token so the first email's link keeps
    working: both hashes are looked up.
    """

    class Trigger(models.TextChoices):
        CAMPAIGN = "campaign", "Campaign"
        TICKET = "ticket", "Closed ticket"
        MANUAL = "manual", "Manual link"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="invitations")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default="campaign")
    campaign_run = models.ForeignKey(
        CampaignRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    reminder_token_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    language = models.CharField(
        max_length=10,
        choices=Locale.choices,
        blank=True,
        default="",
        help_text="The contact's language when invited; empty = unknown (the respondent's "
        "browser decides the page, emails are in English).",
    )
    scheduled_for = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminder_withheld_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The reminder was due but may not go (logged in the skipped sends); it is "
        "not considered again.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["contact", "-sent_at"]),
            # Covering (PostgreSQL; a plain index elsewhere): the response rate's "sent" count
            # leaves out manual links by ``trigger`` without visiting the table.
            models.Index(
                fields=["survey", "sent_at"], include=["trigger"], name="inv_survey_sent_cover_idx"
            ),
            models.Index(
                fields=["scheduled_for"], condition=Q(sent_at__isnull=True), name="inv_unsent_idx"
            ),
        ]
        constraints = [
            # A ticket is followed by at most one survey of a kind: replays of the close do not
            # send twice.
            models.UniqueConstraint(
                fields=["survey", "ticket"],
                condition=Q(ticket__isnull=False),
                name="invitation_once_per_ticket",
            ),
            # A campaign run invites a contact at most once, whoever runs it.
            models.UniqueConstraint(
                fields=["campaign_run", "contact"],
                condition=Q(campaign_run__isnull=False),
                name="invitation_once_per_campaign_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.contact}"


class Response(models.Model):
    """At most one per invitation (database constraint). ``score`` is the single 0–10/1–5/1–7
    answer; CLI and CSI keep their items in ``answers`` with ``score`` empty:

    - CLI: ``{"recommend": 9, "buy_again": 8, "try_other": 5}`` (0–10 each, all present);
    - CSI: ``{"price": {"importance": 8, "satisfaction": 6}, …}`` (1–10), one entry per
      criterion of the survey when answered.

    ``to_announce`` is a transactional outbox: the submit marks the row, and a worker sends
    ``response_saved`` for it and clears the mark — so the respondent's request never waits
    for follow-up work, and nothing is lost when Redis or a worker is down.
    """

    class Announce(models.IntegerChoices):
        NOTHING = 0, "Nothing to announce"
        CREATED = 1, "Answered"
        EDITED = 2, "Edited"

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="response")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="survey_responses")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_responses")
    score = models.SmallIntegerField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    language = models.CharField(max_length=10, choices=Locale.choices, default=Locale.EN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # A copy of the invitation's ``sent_at`` when it was emailed (empty for a manual link,
    # which was handed out, not sent), written with the answer: the response rate counts
    # "answered" off one index instead of joining every invitation to its answer.
    invitation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    tags = models.ManyToManyField("Tag", blank=True, related_name="responses")
    to_announce = models.PositiveSmallIntegerField(
        choices=Announce.choices, default=Announce.NOTHING, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["survey", "created_at"]),
            models.Index(fields=["survey", "invitation_sent_at"], name="response_survey_sent_idx"),
            models.Index(fields=["account", "-created_at"]),
            models.Index(
                fields=["id"], condition=~Q(to_announce=0), name="response_to_announce_idx"
            ),
            # The results page counts and pages the answers with a comment (its default view):
            # about a third of them, found without visiting the rest.
            models.Index(
                fields=["survey", "created_at"],
                condition=~Q(comment=""),
                name="response_commented_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="response_score_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey}: {self.score}"


class ScoreDay(models.Model):
    """How many answers to one survey gave one score on one UTC day. The score pages sum these
    instead of reading every answer: a year of one NPS survey at 100k accounts is some 200k
    answers, its days a few thousand rows (docs/domain/survey-metrics.md, "Reading scores").

    Kept by database triggers on ``surveys_response`` (``surveys.score_days``), not by Python,
    so every path that writes answers (the answer service, imports, bulk loads, fixtures, a
    cascade) moves the counts in its own transaction and they cannot drift. On SQLite, a
    migration that rebuilds the response table drops its triggers; ``triggers_ensure`` puts them
    back (and recounts) after every ``migrate``.
    """

    # The unique constraint's index (survey, day, score) serves the foreign key too.
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    score = models.SmallIntegerField()
    answers = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "day", "score"], name="score_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.day}: {self.answers} × {self.score}"


class ResponseEdit(models.Model):
    """What an answer was before each edit: respondents may change their mind, we keep both."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="edits")
    previous_score = models.SmallIntegerField(null=True, blank=True)
    previous_answers = models.JSONField(default=dict, blank=True)
    previous_comment = models.TextField(blank=True)
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-edited_at"]

    def __str__(self) -> str:
        return f"Edit of {self.response_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class SendSkip(models.Model):
    """A send (or a reminder) that did not happen, and why. Logged, shown to admins, never
    retried: a withheld reminder says so in ``detail``."""

    class Reason(models.TextChoices):
        FATIGUE = "fatigue", "Surveyed recently (fatigue rule)"
        DO_NOT_SURVEY = "do_not_survey", "Contact unsubscribed / do-not-survey"
        NO_EMAIL = "no_email", "Contact has no email address"
        NOT_SAMPLED = "not_sampled", "Not in the sample"
        SURVEY_INACTIVE = "survey_inactive", "Survey inactive or closed"
        DUPLICATE = "duplicate", "Already invited for this trigger"
        NO_CONTACT = "no_contact", "No contact to ask"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="skips")
    # Empty only when there was nobody to ask (a closed ticket whose account has no contact
    # with an email); ``detail`` then names the ticket.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="survey_skips"
    )
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=30, choices=Reason.choices)
    detail = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["survey", "-at"])]

    def __str__(self) -> str:
        return f"{self.contact or self.detail or 'Nobody'} skipped: {self.get_reason_display()}"


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)
    keywords = models.TextField(
        blank=True,
        help_text="Comma-separated keywords; a comment containing one is tagged automatically.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FollowUp(models.Model):
    """Close the loop: an unhappy answer becomes work for the account's owner."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HANDLED = "handled", "Handled"

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="follow_up")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="follow_ups")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_follow_ups",
    )
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default="open")
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_note = models.TextField(blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        # The follow-ups list: one owner's or everyone's, by status, oldest (or newest) first.
        indexes = [
            models.Index(fields=["owner", "status", "created_at", "id"]),
            models.Index(fields=["status", "created_at", "id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | (Q(handled_at__isnull=False) & ~Q(handled_note="")),
                name="follow_up_handled_needs_note",
            )
        ]

    def __str__(self) -> str:
        return f"Follow up {self.account}: {self.reason}"
