"""Campaign definitions: the sample files load, defaults come from settings, every bad value is named."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import (
    CampaignDefinition,
    CampaignKind,
    DefinitionError,
    load_definition,
    parse_definition,
)
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import RetryKind
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.settings import PbxSettings, RetryDefaults, Settings

SAMPLES = sorted((Path(__file__).parents[2] / "config" / "campaigns").glob("*.toml"))
BASE: dict[str, Any] = {"name": "测试", "kind": "hq"}


def parse(settings: Settings | None = None, **table: Any) -> CampaignDefinition:
    return parse_definition({**BASE, **table}, "c.toml", settings or Settings())


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_files_are_valid(path: Path) -> None:
    d = load_definition(path, Settings())
    assert d.kind.value in path.stem
    assert 1 <= d.lines <= Settings().pbx.outbound_lines


def test_there_is_a_sample_for_every_kind() -> None:
    assert {load_definition(p, Settings()).kind for p in SAMPLES} == set(CampaignKind)


def test_defaults_come_from_settings() -> None:
    settings = Settings(pbx=PbxSettings(outbound_lines=6, caller_id="01088886666"))
    d = parse(settings)
    assert (d.mode, d.lines, d.caller_id) == (PacingMode.PROGRESSIVE, 6, "+861088886666")
    assert d.retry == settings.campaigns.retry and d.windows == settings.campaigns.windows
    assert d.deadline_urgent_s == settings.campaigns.deadline_urgent_s
    assert d.lead_filter.sources == (LeadSource.HQ,)
    assert LeadState.DEFEATED not in d.lead_filter.states


@pytest.mark.parametrize(
    ("kind", "sources"),
    [
        ("web", {LeadSource.WEB}),
        ("low_intent_defeated", {LeadSource.LOW_INTENT, LeadSource.DEFEATED}),
        ("repurchase", {LeadSource.BASE_CUSTOMER, LeadSource.REFERRAL}),
    ],
)
def test_kind_picks_default_sources(kind: str, sources: set[LeadSource]) -> None:
    assert set(parse(kind=kind).lead_filter.sources) == sources


def test_overrides_change_only_what_they_name() -> None:
    d = parse(retry={"busy": "3m", "max_attempts": 4}, windows={"sun": "", "holidays": ["2027-01-01"]}, mode="preview")
    assert (d.retry.busy, d.retry.max_attempts, d.retry.no_answer) == ("3m", 4, RetryDefaults().no_answer)
    rules = d.rules("Asia/Shanghai")
    assert rules.retry.rule(Outcome.BUSY).delay_s == 180
    assert rules.retry.rule(Outcome.VACANT).kind is RetryKind.NEVER
    assert rules.windows.starts_on(date(2027, 1, 3)) == []  # a Sunday
    assert d.mode is PacingMode.PREVIEW


@pytest.mark.parametrize(
    ("table", "field", "value", "reason"),
    [
        ({"kind": "hqq"}, "kind", "hqq", "must be one of hq, web, low_intent_defeated, repurchase"),
        ({"name": ""}, "name", "", "expected non-empty text"),
        ({"mode": "turbo"}, "mode", "turbo", "must be one of preview, progressive, predictive"),
        ({"lines": 9}, "lines", 9, "must be between 1 and the PBX's 8 outbound lines (pbx.outbound_lines)"),
        ({"lines": 0}, "lines", 0, "must be between 1 and the PBX's 8 outbound lines (pbx.outbound_lines)"),
        ({"lines": 2.5}, "lines", 2.5, "expected a whole number"),
        ({"agents": ["a1", "a1"]}, "agents", ["a1", "a1"], "an agent is listed twice"),
        ({"agents": "a1"}, "agents", "a1", "expected a list of non-empty texts"),
        ({"caller_id": "123"}, "caller_id", "123", "wrong length"),
        ({"colour": "red"}, "colour", "red", "unknown key"),
        ({"filter": {"sources": ["tv"]}}, "filter.sources", "tv", "must be one of"),
        ({"filter": {"states": ["deal"]}}, "filter.states", ["deal"], "closed leads"),
        ({"filter": {"intents": ["Z"]}}, "filter.intents", "Z", "must be one of H, A, B, C"),
        (
            {"filter": {"car_age_min_years": 8, "car_age_max_years": 3}},
            "filter.car_age_max_years",
            3,
            "below car_age_min_years",
        ),
        ({"filter": {"not_contacted_days": -1}}, "filter.not_contacted_days", -1, "must not be negative"),
        ({"filter": {"age": 3}}, "filter.age", 3, "unknown key"),
        ({"retry": {"busy": "soon"}}, "retry.busy", "soon", "expected a duration"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts", 0, "must be at least 1"),
        ({"retry": {"max_attempts_per_day": 0}}, "retry.max_attempts_per_day", 0, "must be at least 1"),
        ({"retry": {"bored": "1h"}}, "retry.bored", "1h", "unknown key"),
        ({"windows": {"mon": "20:00-09:00"}}, "windows.mon", "20:00-09:00", "ends before it begins"),
        ({"windows": {"holidays": ["soon"]}}, "windows.holidays", ("soon",), "is not a date"),
        ({"deadline_urgent_s": -5}, "deadline_urgent_s", -5, "must not be negative"),
    ],
)
def test_invalid_values_are_named(table: dict[str, Any], field: str, value: Any, reason: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse(**table)
    err = caught.value
    assert (err.where, err.field, err.value) == ("c.toml", field, value)
    assert reason in err.reason
    assert str(err).startswith(f"c.toml: {field} = ")


def test_missing_kind_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    no_kind = tmp_path / "no_kind.toml"
    no_kind.write_text('name = "x"\n', encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"no_kind.toml: kind = None"):
        load_definition(no_kind, Settings())
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"broken.toml: file = .*not valid TOML"):
        load_definition(broken, Settings())
    with pytest.raises(DefinitionError, match="cannot read"):
        load_definition(tmp_path / "missing.toml", Settings())
