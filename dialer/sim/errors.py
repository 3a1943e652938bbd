"""Errors of the simulator."""

from __future__ import annotations


class SimError(ValueError):
    """A simulation cannot run as asked; the message names the parameter and value."""
