"""[calls.amd_tuning]: checked against the abandon budget, and rendered into the PBX's amd.conf."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dialer.lab.layout import lab_sip_plan
from dialer.lab.render import PbxTarget, render
from dialer.settings import AmdTuning, CallSettings, Settings, problems


def with_calls(**calls: object) -> Settings:
    return dataclasses.replace(Settings(), calls=dataclasses.replace(CallSettings(), **calls))


def test_the_shipped_defaults_have_amd_off_and_valid_tuning() -> None:
    assert Settings().calls.amd is False
    assert problems(Settings()) == []


def test_the_analysis_must_leave_the_dialer_time_to_connect_within_the_abandon_budget() -> None:
    too_long = with_calls(amd_tuning=AmdTuning(total_analysis_ms=1800, connect_reserve_ms=400))
    (problem,) = problems(too_long)
    assert "calls.amd_tuning.total_analysis_ms = 1800" in problem and "abandon_after_s = 2" in problem
    # A longer budget lets AMD listen longer.
    assert problems(dataclasses.replace(too_long, calls=dataclasses.replace(too_long.calls, abandon_after_s=3.0))) == []


def test_tuning_values_must_be_positive_and_the_threshold_a_sample_level() -> None:
    bad = with_calls(amd_tuning=AmdTuning(greeting_ms=0, silence_threshold=40000))
    assert problems(bad) == [
        "calls.amd_tuning.greeting_ms = 0: must be positive",
        "calls.amd_tuning.silence_threshold = 40000: must be at most 32767",
    ]


def test_amd_conf_carries_the_tuning(tmp_path: Path) -> None:
    settings = with_calls(amd_tuning=AmdTuning(total_analysis_ms=1500, greeting_ms=1050, maximum_number_of_words=4))
    sip = lab_sip_plan(settings, ())
    render(settings, PbxTarget(etc_dir=tmp_path, sounds_dir=tmp_path / "sounds", sip=sip))
    conf = (tmp_path / "amd.conf").read_text(encoding="utf-8")
    values = {
        k.strip(): v.strip()
        for k, v in (line.split("=", 1) for line in conf.splitlines() if "=" in line and not line.startswith(";"))
    }
    default = AmdTuning()
    assert values == {
        "initial_silence": str(default.initial_silence_ms),
        "greeting": "1050",
        "after_greeting_silence": str(default.after_greeting_silence_ms),
        "total_analysis_time": "1500",
        "min_word_length": str(default.min_word_ms),
        "between_words_silence": str(default.between_words_silence_ms),
        "maximum_number_of_words": "4",
        "maximum_word_length": str(default.maximum_word_ms),
        "silence_threshold": str(default.silence_threshold),
    }
