"""What a cell of a spreadsheet we hand to people may hold: never a formula someone else typed.

The DOSS import sheet and the monthly report carry text that came from outside (imported names,
defeat reasons, notes). Excel and WPS run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and ``=cmd|' /C calc'!A0`` or ``=HYPERLINK(...)`` in a lead's name would then run on the
manager's PC. Such text is written with a leading apostrophe, which spreadsheets show as text.
Numbers (``-3``, ``+5.0``) and a lone ``-`` (our "no value") stay as they are.
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_cell(value: object) -> object:
    """``value`` as a cell may safely hold it (text that would be a formula becomes plain text)."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or value == "-":
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value
