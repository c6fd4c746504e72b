"""Staff forms for results and follow-ups. They validate input and name the field at fault;
the writes themselves happen in ``surveys.services``."""

from __future__ import annotations

import datetime as dt

from django import forms

from customers.models import LifecycleStage
from surveys import metrics, periods
from surveys.models import Survey, Tag
from surveys.selectors import DEFAULT_PERIOD, ResponseFilters
from surveys.services import FOLLOW_UP_NOTE_MAX_LENGTH, TAG_NAME_MAX_LENGTH

PERIOD_CHOICES = [
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("365", "Last 12 months"),
    ("all", "All time"),
    ("custom", "From – to"),
]
# Answers are dated by when they came in; outside these, a date is a typo (and 9999-12-31 has no
# "day after" to end a range on).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Pick a date between {EARLIEST_DATE} and {LATEST_DATE}."
# The largest id a database integer column holds (PostgreSQL bigint, SQLite integer).
MAX_ID = 2**63 - 1
SHOW_CHOICES = [("comments", "Answers with a comment"), ("all", "All answers")]


class ResponseFilterForm(forms.Form):
    """The results page's filters, read from the query string (so every view is a URL)."""

    category = forms.ChoiceField(required=False)
    account = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    plan = forms.ChoiceField(required=False, label="Plan")
    stage = forms.ChoiceField(
        required=False,
        label="Lifecycle stage",
        choices=[("", "Any stage"), *LifecycleStage.choices],
    )
    period = forms.ChoiceField(
        required=False,
        choices=PERIOD_CHOICES,
        # Picking a preset period clears the custom dates before htmx sends the form.
        widget=forms.Select(
            attrs={
                "hx-on:change": "if (this.value !== 'custom') "
                "{ this.form.date_from.value = ''; this.form.date_to.value = ''; }"
            }
        ),
    )
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date", "min": EARLIEST_DATE, "max": LATEST_DATE}),
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date", "min": EARLIEST_DATE, "max": LATEST_DATE}),
    )
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.order_by("name"),
        required=False,
        to_field_name="name",
        empty_label="Any tag",
    )
    q = forms.CharField(required=False, max_length=200, label="Search comments and accounts")
    show = forms.ChoiceField(required=False, choices=SHOW_CHOICES)
    # "Did it really move?": two named periods (a month, quarter or year); empty = the page's
    # period against the one before it.
    compare = forms.CharField(
        required=False,
        max_length=20,
        label="Compare",
        help_text=periods.PERIOD_FORMAT_HELP,
        widget=forms.TextInput(attrs={"placeholder": "2026-Q4", "size": 8}),
    )
    against = forms.CharField(
        required=False,
        max_length=20,
        label="against",
        help_text=periods.PERIOD_FORMAT_HELP,
        widget=forms.TextInput(attrs={"placeholder": "2026-Q3", "size": 8}),
    )

    def __init__(self, data=None, *, survey: Survey, plans: list[str]):
        if data is not None:
            # The selects must show the defaults the results use, not their first option.
            data = data.copy()
            for name, default in (("period", DEFAULT_PERIOD), ("show", "comments")):
                if not data.get(name):
                    data[name] = default
            # A date means "this range", whatever the period select said (the page clears the
            # dates when a preset period is picked).
            if data.get("date_from") or data.get("date_to"):
                data["period"] = "custom"
        super().__init__(data)
        categories = metrics.CATEGORY_LABELS.get(survey.kind, {})
        self.fields["category"].choices = [("", "Every answer"), *categories.items()]
        self.fields["category"].label = "Category"
        self.has_categories = bool(categories)
        self.fields["plan"].choices = [("", "Any plan"), *((p, p) for p in plans)]

    def _clean_period(self, name: str) -> periods.Window | None:
        text = self.cleaned_data.get(name) or ""
        if not text.strip():
            return None
        try:
            return periods.period_parse(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_compare(self) -> periods.Window | None:
        return self._clean_period("compare")

    def clean_against(self) -> periods.Window | None:
        return self._clean_period("against")

    def comparison(
        self, filters: ResponseFilters, now: dt.datetime
    ) -> tuple[periods.Window, periods.Window] | str:
        """The two periods to compare, or why there are none. By default the page's own period
        against the one of the same length before it; ``compare`` alone is set against the
        period before it."""
        data = getattr(self, "cleaned_data", {})
        current, previous = data.get("compare"), data.get("against")
        if current is None:
            start, end = filters.window(now)
            if start is None:
                return (
                    "“All time” has no period before it to compare with: pick a period, or "
                    "name two below."
                )
            end = end or now
            current = periods.days(start, end)
        if previous is None:
            previous = periods.period_before(current)
        return current, previous

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            value = cleaned.get(name)
            if value and not EARLIEST_DATE <= value <= LATEST_DATE:
                self.add_error(name, DATE_RANGE_MESSAGE)
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> ResponseFilters:
        """The valid part of the input: a bad field is reported and ignored, not fatal."""
        data = getattr(self, "cleaned_data", {})
        return ResponseFilters(
            category=data.get("category") or "",
            account_id=data.get("account"),
            plan=data.get("plan") or "",
            stage=data.get("stage") or "",
            period=data.get("period") or DEFAULT_PERIOD,
            date_from=data.get("date_from"),
            date_to=data.get("date_to") if "date_to" not in self.errors else None,
            tag=data.get("tag"),
            search=(data.get("q") or "").strip(),
            comments_only=(data.get("show") or "comments") == "comments",
        )


class FollowUpHandleForm(forms.Form):
    note = forms.CharField(
        label="What did you do?",
        max_length=FOLLOW_UP_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write a note on what you did: it is required."},
    )


class TagAddForm(forms.Form):
    name = forms.CharField(
        label="Add a tag",
        max_length=TAG_NAME_MAX_LENGTH,
        error_messages={"required": "Give the tag a name."},
    )
