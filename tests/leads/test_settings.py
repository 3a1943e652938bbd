from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialer import config
from dialer import settings as settings_mod
from dialer.settings import ConfigError, LeadSettings


def load(tmp_path: Path, toml: str) -> settings_mod.Settings:
    path = tmp_path / "dialer.toml"
    path.write_text(toml, encoding="utf-8")
    return config.load(path, env={})


def test_the_documented_leads_section_is_valid_and_equals_the_defaults(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "leads-import.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```toml\n(\[leads\].*?)```", doc, re.DOTALL)
    assert load(tmp_path, block).leads == LeadSettings()


def test_env_overrides_and_none_reach_the_deadlines(tmp_path: Path) -> None:
    path = tmp_path / "dialer.toml"
    path.write_text('[leads.first_follow_up_hours]\nweb = "none"\n', encoding="utf-8")
    cfg = config.load(path, env={"DIALER__LEADS__FIRST_FOLLOW_UP_HOURS__HQ": "24"})
    assert (cfg.leads.first_follow_up_hours.hq, cfg.leads.first_follow_up_hours.web) == (24.0, None)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[leads]\nvisit_reminder_time = "25:00"\n', "visit_reminder_time = '25:00': expected HH:MM"),
        ('[leads]\nno_show_call_time = "9.30"\n', "no_show_call_time = '9.30': expected HH:MM"),
        ("[leads]\nvisit_confirm_chase_hours = 0\n", "visit_confirm_chase_hours = 0.0: must be positive"),
        ("[leads.first_follow_up_hours]\nhq = -1\n", "first_follow_up_hours.hq = -1.0: must be positive or none"),
        ("[leads.intent]\nh_horizon_days = 100\n", "horizons [100, 15, 30, 90] must grow from H to C"),
        ("[leads]\nimport_progress_rows = 0\n", "import_progress_rows = 0: must be positive"),
        ("[leads]\nfollow_up = 1\n", "unknown key(s) follow_up"),
    ],
)
def test_bad_lead_settings_are_refused_with_key_and_value(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(tmp_path, toml)
