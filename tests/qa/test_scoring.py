"""Scoring one call: weights, re-weighting of items that do not apply, and refusals that name the item."""

from __future__ import annotations

import pytest

from dialer.domain.calls.outcome import Direction
from dialer.domain.qa.errors import ScoreError
from dialer.domain.qa.form import QaForm, parse_form
from dialer.domain.qa.scoring import parse_item_args, score_call


@pytest.fixture
def form() -> QaForm:
    return parse_form(
        {
            "version": "t1",
            "item": [
                {"id": "greeting", "label": "问好", "weight": 60, "max": 2},
                {"id": "purpose", "label": "说明来电目的", "weight": 20, "applies_to": ["outbound"]},
                {"id": "three_rings", "label": "三声内接听", "weight": 20, "applies_to": ["inbound"]},
            ],
        },
        "t",
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"greeting": 2, "purpose": 1}, 100.0),
        ({"greeting": 0, "purpose": 0}, 0.0),
        ({"greeting": 1, "purpose": 1}, 62.5),  # (60 * 1/2 + 20) / 80
        ({"greeting": 2, "purpose": 0}, 75.0),  # 60 / 80: three_rings (inbound only) is left out
    ],
)
def test_outbound_scores(form: QaForm, values: dict[str, int], expected: float) -> None:
    card = score_call(form, Direction.OUTBOUND, values)
    assert card.score == expected
    assert [i.item_id for i in card.items] == ["greeting", "purpose"]
    assert card.form_version == "t1"


def test_inbound_uses_its_own_items(form: QaForm) -> None:
    assert score_call(form, Direction.INBOUND, {"greeting": 1, "three_rings": 1}).score == 62.5


@pytest.mark.parametrize(
    ("values", "item", "message"),
    [
        ({"greeting": 2}, "purpose", "has no value"),
        ({"greeting": 2, "purpose": 1, "smile": 1}, "smile", "is not on the form"),
        ({"greeting": 2, "purpose": 1, "three_rings": 1}, "three_rings", "does not apply to outbound calls"),
        ({"greeting": 3, "purpose": 1}, "greeting", "not a whole number from 0 to 2"),
        ({"greeting": -1, "purpose": 1}, "greeting", "not a whole number from 0 to 2"),
        ({"greeting": True, "purpose": 1}, "greeting", "not a whole number"),
    ],
)
def test_bad_scorings_name_the_item(form: QaForm, values: dict[str, int], item: str, message: str) -> None:
    with pytest.raises(ScoreError) as info:
        score_call(form, Direction.OUTBOUND, values)
    assert info.value.item == item and message in str(info.value)


def test_cli_item_arguments() -> None:
    assert parse_item_args(["greeting=2", " purpose = 0"]) == {"greeting": 2, "purpose": 0}
    for bad, message in (
        (["greeting"], "ITEM=VALUE"),
        (["=1"], "ITEM=VALUE"),
        (["greeting=yes"], "not a whole number"),
        (["greeting=1", "greeting=2"], "given twice"),
    ):
        with pytest.raises(ScoreError, match=message):
            parse_item_args(bad)
