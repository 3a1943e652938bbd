"""A lead's history as sentences in the reader's language, not the events' stored ``key=value`` data.

The ``lead_events`` rows keep machine data (state codes, ISO times, import row numbers) so that
KPIs and audits can recompute from them. The lead card shows each event as one sentence: its
kind's opening clause (``web.history.<kind>``) followed by a clause per fact the event carries
(``web.history.fact.<name>``), codes translated (states, sources, outcomes) and times in the
dealer's time zone. A kind or fact this module does not know still reads as words: the event
kind's label, and the fact's name from the catalog when it has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dialer.domain.leads.records import LeadEvent

Translate = Callable[..., str]
"""``translate(key, **params)`` in the reader's language."""

# Facts shown in the opening clause of their kind, not again as a clause of their own.
_IN_OPENING: Mapping[str, frozenset[str]] = {
    "created": frozenset({"import_id", "row"}),
    "updated": frozenset({"import_id", "row"}),
    "assigned": frozenset({"import_id", "row", "owner"}),
    "ownership_conflict": frozenset({"import_id", "row", "owner", "claimant"}),
    "transferred": frozenset({"from", "to"}),
    "owner_renamed": frozenset({"from", "to"}),
    "contact": frozenset({"channel", "outcome"}),
    "attempt": frozenset({"channel", "outcome"}),
    "state": frozenset({"from", "to"}),
    "callback": frozenset({"callback_at"}),
    "visit_booked": frozenset({"visit_at"}),
    "visit_reminded": frozenset({"visit_at"}),
    "visit_confirmed": frozenset({"visit_at"}),
    "visit_cancelled": frozenset({"visit_at"}),
    "sms": frozenset({"template"}),
    "reissued": frozenset({"issued_at"}),
}
# Facts that are codes of a translated vocabulary: the catalog key prefix of their values.
_CODED = {
    "source": "web.source.",
    "from": "web.state.",
    "to": "web.state.",
    "outcome": "outcome.",
    "purpose": "web.purpose.",
    "from_source": "web.source.",
    "from_state": "web.state.",
}
# Facts holding an ISO time.
_TIMES = frozenset({"callback_at", "visit_at", "at", "not_before", "issued_at", "from_issued_at"})
# Facts nobody reads on the card: numbers are on the card already (and masked elsewhere).
_HIDDEN = frozenset({"phones", "phones_added"})


def sentence(event: LeadEvent, translate: Translate, local_time: Callable[[datetime], str]) -> str:
    """One event as a sentence: the kind's clause, then a clause per remaining fact."""

    def show(name: str, value: Any) -> str:
        return _value(name, value, translate, local_time)

    data = {k: v for k, v in event.data.items() if v is not None and v != "" and v != [] and k not in _HIDDEN}
    shown = {k: show(k, v) for k, v in data.items()}
    opening_facts = _IN_OPENING.get(event.kind, frozenset())
    if opening_facts and opening_facts <= data.keys():
        opening = translate(f"web.history.{event.kind}", **{k: shown[k] for k in opening_facts})
    else:
        # An unknown kind, or an older row without every fact its sentence needs: the kind's label,
        # and every fact as a clause of its own.
        opening = _label(event.kind, translate)
        opening_facts = frozenset()
    clauses = [opening]
    for name, value in data.items():
        if name in opening_facts:
            continue
        if name == "first":
            if value is True:
                clauses.append(translate("web.history.fact.first"))
            continue
        clauses.append(_fact(name, shown[name], translate))
    return translate("web.history.separator").join(c for c in clauses if c)


def _label(kind: str, translate: Translate) -> str:
    key = "web.event." + kind
    label = translate(key)
    return kind if label == key else label


def _fact(name: str, value: str, translate: Translate) -> str:
    key = "web.history.fact." + name
    said = translate(key, value=value)
    if said != key:
        return said
    # A fact this module has no sentence for: its field name if the console knows it, else the code.
    label_key = "web.col." + name
    label = translate(label_key)
    return translate("web.history.fact.other", name=name if label == label_key else label, value=value)


def _value(name: str, value: Any, translate: Translate, local_time: Callable[[datetime], str]) -> str:
    if name in _CODED and isinstance(value, str):
        key = _CODED[name] + value
        said = translate(key)
        return value if said == key else said
    if name in _TIMES and isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    if name == "reason" and isinstance(value, str):
        key = "web.history.reason." + value
        said = translate(key)
        return value if said == key else said
    if isinstance(value, bool):
        return translate("web.history.yes" if value else "web.history.no")
    if isinstance(value, list):
        return translate("web.history.list_separator").join(str(v) for v in value)
    if isinstance(value, dict):
        return translate("web.history.list_separator").join(
            _fact(k, _value(k, v, translate, local_time), translate) for k, v in value.items()
        )
    return str(value)
