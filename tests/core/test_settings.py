"""Configuration: defaults, the shipped sample, environment overrides, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.config import load
from dialer.settings import ConfigError, Settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_handbook() -> None:
    s = Settings()
    assert (s.pbx.outbound_lines, s.pbx.inbound_lines) == (8, 4)
    assert s.calls.abandon_after_s == 2.0
    assert s.ui.language == "zh-CN"


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    s = load(
        None, env={"DIALER__PBX__AMI_SECRET": "x", "DIALER__PBX__OUTBOUND_LINES": "6", "DIALER__CALLS__AMD": "false"}
    )
    assert (s.pbx.ami_secret, s.pbx.outbound_lines, s.calls.amd) == ("x", 6, False)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[pbx]\noutbound_lines = 0\n", "pbx.outbound_lines = 0"),
        ("[pbx]\noutbound_lines = 'eight'\n", "outbound_lines = 'eight': expected a number"),
        ("[pbx]\nbogus = 1\n", "unknown key(s) bogus"),
        ("[pbx]\nfirst_connect_retry_s = -1\n", "pbx.first_connect_retry_s = -1"),
        ("[pbx]\nreconcile_interval_s = -5\n", "pbx.reconcile_interval_s = -5"),
        ("[calls]\namd = 'maybe'\n", "amd = 'maybe': expected true or false"),
        ("[pbx\n", "not valid TOML"),
        ("[ui]\nlanguage = 'fr'\n", "ui.language = 'fr'"),
        ("[dealer]\ncode = 'Shanghai Pudong'\n", "dealer.code = 'Shanghai Pudong': use 1-32 lowercase"),
        ("[dealer]\ncode = '-b'\n", "dealer.code = '-b'"),
    ],
)
def test_bad_config_names_file_key_and_value(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "dialer.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "absent.toml", env={})


def test_shipped_sample_config_loads_and_matches_the_defaults() -> None:
    s = load(REPO / "config" / "dialer.toml", env={})
    defaults = Settings(base_dir=s.base_dir)
    assert s == defaults


def test_shipped_sample_is_the_generated_one() -> None:
    """Regenerate with: dialer config show --defaults > config/dialer.toml"""
    from dialer.settings_toml import to_toml

    assert (REPO / "config" / "dialer.toml").read_text(encoding="utf-8") == to_toml(Settings())


def test_sample_round_trips_through_the_loader(tmp_path: Path) -> None:
    from dialer.settings_toml import to_toml

    changed = Settings(base_dir=str(tmp_path))
    path = tmp_path / "dialer.toml"
    path.write_text(to_toml(changed), encoding="utf-8")
    assert load(path, env={}) == Settings(base_dir=str(tmp_path.resolve()))
