"""A person's name in a dealer group (dialer/domain/access/dealers.py): ``code/name`` is dealer ``code``'s
``name``; a filter by a plain name is one dealer's only where the viewer sees one dealer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.domain.access.dealers import (
    EVERY_DEALER,
    AmbiguousName,
    Dealer,
    DealerScope,
    qualified,
    scope_of_name,
    split_qualified,
)

_AT = datetime(2026, 11, 1, tzinfo=UTC)
MAIN, PUDONG = Dealer(1, "main", "总店", _AT), Dealer(2, "pudong", "浦东店", _AT)
GROUP = (MAIN, PUDONG)


@pytest.mark.parametrize(
    ("name", "split"),
    [("8001", (None, "8001")), ("pudong/8001", ("pudong", "8001")), ("main/agent.1", ("main", "agent.1")),
     ("/8001", ("", "8001")), ("pudong/", ("pudong", ""))],
)  # fmt: skip
def test_split_qualified(name: str, split: tuple[str | None, str]) -> None:
    assert split_qualified(name) == split


def test_qualified_is_what_split_qualified_takes_apart() -> None:
    assert qualified("pudong", "8001") == "pudong/8001"
    assert split_qualified(qualified("shanghai-pudong", "agent_3")) == ("shanghai-pudong", "agent_3")


def test_a_group_wide_viewer_qualifies_a_name_which_narrows_to_its_dealer() -> None:
    assert scope_of_name("pudong/8001", EVERY_DEALER, GROUP) == (DealerScope.group_wide(PUDONG.id), "8001")
    # The dealer chosen already: plain or qualified with it alike.
    chosen = DealerScope.group_wide(PUDONG.id)
    assert scope_of_name("8001", chosen, GROUP) == (chosen, "8001")
    assert scope_of_name("pudong/8001", chosen, GROUP) == (chosen, "8001")


def test_a_plain_name_of_several_dealers_is_ambiguous_for_a_group_wide_viewer() -> None:
    with pytest.raises(AmbiguousName, match=r"code/8001 \(e\.g\. main/8001\)"):
        scope_of_name("8001", EVERY_DEALER, GROUP)
    # A group of one dealer: nothing to tell apart.
    assert scope_of_name("8001", EVERY_DEALER, (MAIN,)) == (EVERY_DEALER, "8001")


@pytest.mark.parametrize(
    ("name", "dealers"),
    [("nowhere/8001", EVERY_DEALER), ("main/8001", DealerScope.group_wide(PUDONG.id)),
     ("pudong/8001", DealerScope.of(MAIN.id))],
)  # fmt: skip
def test_a_code_out_of_the_viewers_reach_is_refused(name: str, dealers: DealerScope) -> None:
    with pytest.raises(AmbiguousName, match="is no dealer you see here"):
        scope_of_name(name, dealers, GROUP)


def test_a_dealers_person_uses_plain_names_of_their_dealer_or_qualified_with_its_code() -> None:
    mine = DealerScope.of(MAIN.id)
    assert scope_of_name("8001", mine, GROUP) == (mine, "8001")
    assert scope_of_name("main/8001", mine, GROUP) == (mine, "8001")


def test_the_refusal_says_what_to_write_for_the_faces_to_translate() -> None:
    with pytest.raises(AmbiguousName) as plain:
        scope_of_name("8001", EVERY_DEALER, GROUP)
    assert (plain.value.name, plain.value.unseen, plain.value.example) == ("8001", None, "main/8001")
    with pytest.raises(AmbiguousName) as unseen:
        scope_of_name("pudong/8001", DealerScope.of(MAIN.id), GROUP)
    assert (unseen.value.name, unseen.value.unseen) == ("pudong/8001", "pudong")
