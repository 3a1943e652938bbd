"""Errors of the leads package: one flat family under :class:`LeadError`.

A bad row in an import file is not an error but data (a rejection in the
report); these are for things that stop an operation as a whole.
"""

from __future__ import annotations


class LeadError(Exception):
    """Base of every leads error, so a face can catch the family in one place."""


class ImportFileError(LeadError):
    """The file as a whole cannot be imported (unreadable, unknown format, missing columns)."""


class LeadNotFound(LeadError):
    """An operation named a lead id that does not exist."""


class LeadStateError(LeadError):
    """A state change DOSS would not accept (e.g. out of a deal)."""
