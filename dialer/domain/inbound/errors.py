"""Errors of inbound routing: one base, each message says what and where."""

from __future__ import annotations


class InboundError(Exception):
    """Base of everything inbound routing refuses or cannot do."""


class LeadNotCreated(InboundError):
    """An unknown caller could not be stored as a new lead (the import plan rejected the row)."""


class QueueChangeRefused(InboundError):
    """The PBX did not add, remove, pause or unpause a queue member (the message has its answer)."""
