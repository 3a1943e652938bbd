"""The QA scoring form: items from the handbook's phone etiquette, weights, Chinese labels.

The dealer edits ``config/qa_form.toml`` (``recording.qa_form``); this module reads it once at
start-up and refuses a form that would score wrongly: duplicate ids, weights that do not add
up to ``total``, an item without a Chinese label, an unknown key. Every error names the file,
the item and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.domain.calls.outcome import Direction
from dialer.settings import ConfigError, read_toml

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FORM_KEYS = frozenset({"version", "total", "item"})
_ITEM_KEYS = frozenset({"id", "label", "label_en", "weight", "max", "applies_to", "guide"})
# Weights are decimals in TOML; they must add up to total within this much.
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class FormItem:
    """One thing the reviewer listens for, scored 0..``max`` and worth ``weight`` of ``total``."""

    id: str
    label: str
    label_en: str
    weight: float
    max: int
    applies_to: frozenset[Direction]
    guide: str = ""

    def label_for(self, language: str) -> str:
        """The label in the UI language; the Chinese one when no English label was given."""
        return self.label_en if language == "en" and self.label_en else self.label


@dataclass(frozen=True, slots=True)
class QaForm:
    """The validated form; ``version`` is stored with every scoring so reports never mix forms unknowingly."""

    version: str
    total: float
    items: tuple[FormItem, ...]

    def item(self, item_id: str) -> FormItem | None:
        """The item with this id, or None (scoring refuses unknown ids with this)."""
        return next((i for i in self.items if i.id == item_id), None)

    def applicable(self, direction: Direction) -> tuple[FormItem, ...]:
        """The items that apply to a call in this direction (answering within three rings is inbound only)."""
        return tuple(i for i in self.items if direction in i.applies_to)


def load_form(path: str | Path) -> QaForm:
    """Read and validate the form file; every problem is a :class:`ConfigError` naming the file."""
    return parse_form(read_toml(path, "QA form"), str(Path(path)))


def parse_form(data: Mapping[str, Any], where: str) -> QaForm:
    """Validate an already-parsed form document; ``where`` prefixes every error."""
    unknown = sorted(set(data) - _FORM_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ConfigError(f"{where}: version = {version!r}: must be a non-empty text")
    total = data.get("total", 100)
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 0:
        raise ConfigError(f"{where}: total = {total!r}: must be a positive number")
    raw_items = data.get("item")
    if not isinstance(raw_items, list) or not raw_items:
        raise ConfigError(f"{where}: expected at least one [[item]] table")
    items = tuple(_parse_item(raw, f"{where}: item #{n}") for n, raw in enumerate(raw_items, start=1))
    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        if item.id in seen:
            raise ConfigError(f"{where}: item #{n}: id = {item.id!r} is used twice")
        seen.add(item.id)
    weights = sum(i.weight for i in items)
    if abs(weights - total) > _WEIGHT_TOLERANCE:
        raise ConfigError(f"{where}: the item weights add up to {weights:g}, not total = {total:g}")
    for direction in Direction:
        if not any(direction in i.applies_to for i in items):
            raise ConfigError(f"{where}: no item applies to {direction.value} calls")
    return QaForm(version=version.strip(), total=float(total), items=items)


def _parse_item(raw: Any, where: str) -> FormItem:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - _ITEM_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise ConfigError(
            f"{where}: id = {item_id!r}: must be lower-case letters, digits and _ (starting with a letter)"
        )
    where = f"{where} ({item_id})"
    label = raw.get("label")
    if not isinstance(label, str) or not _CJK.search(label):
        raise ConfigError(f"{where}: label = {label!r}: must be a Chinese label")
    label_en = raw.get("label_en", "")
    guide = raw.get("guide", "")
    if not isinstance(label_en, str) or not isinstance(guide, str):
        raise ConfigError(f"{where}: label_en and guide must be texts")
    weight = raw.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
        raise ConfigError(f"{where}: weight = {weight!r}: must be a positive number")
    top = raw.get("max", 1)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigError(f"{where}: max = {top!r}: must be a whole number of at least 1")
    applies = raw.get("applies_to", [d.value for d in Direction])
    directions = {d.value for d in Direction}
    if not isinstance(applies, list) or not applies or not all(a in directions for a in applies):
        raise ConfigError(
            f"{where}: applies_to = {applies!r}: must list one or more of {', '.join(sorted(directions))}"
        )
    return FormItem(
        id=item_id,
        label=label.strip(),
        label_en=label_en.strip(),
        weight=float(weight),
        max=top,
        applies_to=frozenset(Direction(a) for a in applies),
        guide=guide.strip(),
    )
