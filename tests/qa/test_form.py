"""The QA form: the shipped file is valid, and every way a form could score wrongly is refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.qa.form import load_form, parse_form
from dialer.settings import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]


def _doc() -> dict[str, Any]:
    return {
        "version": "t1",
        "total": 100,
        "item": [
            {"id": "greeting", "label": "问好", "weight": 60, "max": 2},
            {"id": "purpose", "label": "说明来电目的", "weight": 30, "applies_to": ["outbound"]},
            {"id": "three_rings", "label": "三声内接听", "weight": 10, "applies_to": ["inbound"]},
        ],
    }


def test_the_shipped_form_covers_the_handbook_etiquette() -> None:
    form = load_form(Settings(base_dir=str(ROOT)).path(Settings().recording.qa_form))
    ids = {i.id for i in form.items}
    assert {"greeting", "can_talk", "purpose", "other_needs", "customer_hangs_up_first", "three_rings"} <= ids
    assert sum(i.weight for i in form.items) == form.total == 100
    assert [i.id for i in form.applicable(Direction.INBOUND) if i.id in ("three_rings", "can_talk")] == ["three_rings"]


def test_a_valid_document_parses() -> None:
    form = parse_form(_doc(), "f")
    assert form.version == "t1" and [i.id for i in form.applicable(Direction.OUTBOUND)] == ["greeting", "purpose"]
    assert form.item("greeting") is not None and form.item("greeting").max == 2  # type: ignore[union-attr]
    assert form.item("nope") is None


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["item", 1, "id"], "greeting", "item #2: id = 'greeting' is used twice"),
        (["item", 0, "weight"], 50, "weights add up to 90, not total = 100"),
        (["total"], 90, "weights add up to 100, not total = 90"),
        (["item", 0, "label"], "Greeting", "item #1 (greeting): label = 'Greeting': must be a Chinese label"),
        (["item", 0, "label"], _DELETE, "label = None"),
        (["item", 0, "weight"], 0, "weight = 0"),
        (["item", 0, "weight"], True, "weight = True"),
        (["item", 0, "max"], 0, "max = 0"),
        (["item", 0, "max"], 1.5, "max = 1.5"),
        (["item", 0, "id"], "Greeting", "id = 'Greeting'"),
        (["item", 0, "id"], "1st", "id = '1st'"),
        (["item", 0, "colour"], "red", "item #1: unknown key(s) colour"),
        (["item", 1, "applies_to"], ["outgoing"], "applies_to = ['outgoing']"),
        (["item", 1, "applies_to"], [], "applies_to = []"),
        (
            ["item"],
            [{"id": "a", "label": "问好", "weight": 100, "applies_to": ["outbound"]}],
            "no item applies to inbound calls",
        ),
        (["version"], "", "version = ''"),
        (["version"], _DELETE, "version = None"),
        (["total"], -1, "total = -1"),
        (["item"], [], "at least one [[item]]"),
        (["weights"], 3, "unknown key(s) weights"),
    ],
)
def test_broken_forms_are_refused_with_where_and_what(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_form(_broken(path, value), "qa_form.toml")
    assert str(info.value).startswith("qa_form.toml: ")
    assert message in str(info.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the QA form"):
        load_form(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_form(bad)
