"""The QA package's errors: one base, flat below it."""

from __future__ import annotations


class QaError(Exception):
    """Base of everything the QA package raises on purpose."""


class ScoreError(QaError):
    """A scoring does not fit the form; ``item`` names the culprit so a UI can mark the field."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"item {item!r}: {message}")
        self.item = item


class RecordingUnavailable(QaError):
    """The recording to score does not exist in the registry."""
