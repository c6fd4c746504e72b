"""What a batch answers: each item accepted, a duplicate, or rejected with its field."""

from __future__ import annotations

from typing import TypedDict

from django.core.exceptions import ValidationError


class RejectedItem(TypedDict):
    index: int
    error: str


class IngestResult(TypedDict):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]


class SegmentResult(IngestResult):
    parked: int  # kept until the account or contact they name exists (ingest.parked)


class ItemError(Exception):
    """One item is refused; the message always starts with the field it is about."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Waiting(ItemError):
    """The item names an account or contact that does not exist (yet). The plain batches
    refuse it like any error; Segment messages are parked until ``waiting_for`` exists."""

    def __init__(self, field: str, reason: str, *, kind: str, external_id: str) -> None:
        super().__init__(field, reason)
        self.waiting_for = (kind, external_id)

    def renamed(self, field: str) -> Waiting:
        kind, external_id = self.waiting_for
        return Waiting(field, self.reason, kind=kind, external_id=external_id)


class Outcome:
    """What happened to each item of a batch, by its index in the request."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    PARKED = "parked"

    def __init__(self, size: int) -> None:
        self.size = size
        self.status: dict[int, str] = {}
        self.errors: dict[int, ItemError] = {}

    def accept(self, index: int) -> None:
        self.status[index] = self.ACCEPTED

    def duplicate(self, index: int) -> None:
        self.status[index] = self.DUPLICATE

    def park(self, index: int) -> None:
        self.errors.pop(index, None)
        self.status[index] = self.PARKED

    def reject(self, index: int, error: ItemError) -> None:
        self.status.pop(index, None)
        self.errors[index] = error

    def count(self, status: str) -> int:
        return sum(1 for value in self.status.values() if value == status)

    def result(self) -> IngestResult:
        statuses = list(self.status.values())
        return {
            "accepted": statuses.count(self.ACCEPTED),
            "duplicates": statuses.count(self.DUPLICATE),
            "rejected": [
                {"index": index, "error": str(self.errors[index])} for index in sorted(self.errors)
            ],
        }


def error_of(error: ValidationError) -> ItemError:
    """A service's ValidationError as an item error naming its field."""
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return ItemError(field, " ".join(e.message % (e.params or {}) for e in errors))
    return ItemError("item", " ".join(error.messages))
