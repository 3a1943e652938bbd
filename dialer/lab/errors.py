"""Errors of the lab and of PBX config rendering: one flat family, each saying what and where."""

from __future__ import annotations


class LabError(Exception):
    """The lab (or a rendered PBX config) could not be brought to the asked-for state."""


class RenderError(LabError):
    """A template could not be filled: names the file, the line and the placeholder."""


class LabStartError(LabError):
    """A lab process did not start or did not become ready; the message points at its log."""
