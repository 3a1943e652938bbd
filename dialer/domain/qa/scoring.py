"""One scoring of one call against the form: every applicable item gets a value, the result is 0..100.

Items that do not apply to the call's direction are left out and the rest re-weighted,
so an outbound call is not marked down for "answered within three rings".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialer.domain.calls.outcome import Direction
from dialer.domain.qa.errors import ScoreError
from dialer.domain.qa.form import QaForm

# Scores are shown with one decimal; two are kept so averages do not drift.
_SCORE_DECIMALS = 2


@dataclass(frozen=True, slots=True)
class ItemScore:
    """The value given for one item, with the form's scale and weight at the time of scoring."""

    item_id: str
    value: int
    max_value: int
    weight: float

    @property
    def fraction(self) -> float:
        """Share of the item's points achieved (0..1): what the per-item report averages."""
        return self.value / self.max_value


@dataclass(frozen=True, slots=True)
class ScoreCard:
    """A complete scoring: the item values and the weighted result (0..100)."""

    form_version: str
    direction: Direction
    items: tuple[ItemScore, ...]
    score: float


def score_call(form: QaForm, direction: Direction, values: Mapping[str, int]) -> ScoreCard:
    """Check ``values`` against the form and compute the weighted score.

    Every item applying to ``direction`` needs a whole value in 0..max; an unknown item, or
    one that does not apply to this call, is a :class:`ScoreError` naming it.
    """
    applicable = form.applicable(direction)
    wanted = {i.id for i in applicable}
    for item_id in values:
        if form.item(item_id) is None:
            raise ScoreError(item_id, "is not on the form")
        if item_id not in wanted:
            raise ScoreError(item_id, f"does not apply to {direction.value} calls")
    scored: list[ItemScore] = []
    for item in applicable:
        if item.id not in values:
            raise ScoreError(item.id, "has no value")
        value = values[item.id]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= item.max:
            raise ScoreError(item.id, f"value {value!r} is not a whole number from 0 to {item.max}")
        scored.append(ItemScore(item.id, value, item.max, item.weight))
    total_weight = sum(s.weight for s in scored)
    result = 100.0 * sum(s.weight * s.fraction for s in scored) / total_weight
    return ScoreCard(form.version, direction, tuple(scored), round(result, _SCORE_DECIMALS))


def parse_item_args(pairs: list[str]) -> dict[str, int]:
    """``["greeting=1", "can_talk=0"]`` (the CLI's ``--item``) -> ``{"greeting": 1, "can_talk": 0}``."""
    values: dict[str, int] = {}
    for pair in pairs:
        item_id, sep, raw = pair.partition("=")
        item_id = item_id.strip()
        if not sep or not item_id:
            raise ScoreError(pair, "expected ITEM=VALUE, e.g. greeting=1")
        if item_id in values:
            raise ScoreError(item_id, "is given twice")
        try:
            values[item_id] = int(raw.strip())
        except ValueError:
            raise ScoreError(item_id, f"value {raw!r} is not a whole number") from None
    return values
