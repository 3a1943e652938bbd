"""``dialer simulate``: run a campaign shift in virtual time and print what pacing achieved."""

from __future__ import annotations

import argparse
from typing import Any

from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import CampaignRules
from dialer.settings import Settings
from dialer.sim.engine import SimResult, simulate
from dialer.sim.errors import SimError
from dialer.sim.scenarios import reference

# What the summary shows, in order: field, Chinese label, English label.
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("mode", "外呼模式", "mode"),
    ("agents", "坐席数", "agents"),
    ("lines", "外线数", "lines"),
    ("hours", "时长(小时)", "hours"),
    ("seed", "随机种子", "seed"),
    ("attempts", "拨打次数", "attempts"),
    ("answered", "客户接听", "answered by a person"),
    ("connected", "接通坐席", "connected to an agent"),
    ("abandoned", "放弃呼叫", "abandoned"),
    ("retries", "重拨次数", "retries dialed"),
    ("occupancy", "坐席通话占用率", "agent talk occupancy"),
    ("abandon_rate", "放弃率(占接听)", "abandonment (of answered)"),
    ("connects_per_agent_hour", "每坐席小时接通数", "connects per agent-hour"),
    ("line_use", "线路占用率", "line use"),
    ("max_lines", "最高同时占线", "most lines at once"),
)
_PERCENT = frozenset({"occupancy", "abandon_rate", "line_use"})
_MODE_ZH = {PacingMode.PREVIEW: "预览式", PacingMode.PROGRESSIVE: "渐进式", PacingMode.PREDICTIVE: "预测式"}
_HEADERS = {"zh-CN": ("指标", "数值"), "en": ("measure", "value")}


def register(sub: Any) -> None:
    """Add the ``simulate`` sub-command."""
    p = sub.add_parser("simulate", help="模拟一个外呼班次 (simulate a campaign shift in virtual time)")
    p.add_argument("--mode", choices=[m.value for m in PacingMode], help="pacing mode (default: campaigns.pacing.mode)")
    p.add_argument("--agents", type=int, default=8, help="agents logged in (default 8)")
    p.add_argument("--lines", type=int, help="outbound line cap (default: pbx.outbound_lines)")
    p.add_argument("--answer-p", type=float, default=0.3, help="probability a person answers (default 0.3)")
    p.add_argument("--talk-mean", type=float, default=90.0, help="mean talk time in seconds (default 90)")
    p.add_argument("--hours", type=float, default=8.0, help="shift length in hours (default 8)")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same run (default 1)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(cfg: Settings, args: argparse.Namespace) -> int:
    """Simulate one shift under the configured campaign rules and print the summary."""
    mode = PacingMode(args.mode or cfg.campaigns.pacing.mode)
    lines = cfg.pbx.outbound_lines if args.lines is None else args.lines
    try:
        rules = CampaignRules.from_settings(cfg)
        sc = reference(rules, mode, args.agents, lines, args.answer_p, args.talk_mean, args.hours, args.seed)
        result = simulate(sc, rules, cfg.campaigns.pacing, cfg.calls.abandon_after_s)
    except (SimError, CampaignError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(result.as_dict())
    else:
        lang = cfg.ui.language
        print_table(_HEADERS.get(lang, _HEADERS["en"]), _rows(result, lang))
    return 0


def _rows(result: SimResult, lang: str) -> list[tuple[str, str]]:
    values = result.as_dict()
    rows = []
    for key, zh, en in _ROWS:
        value = values[key]
        if key == "mode" and lang == "zh-CN":
            shown = _MODE_ZH[PacingMode(str(value))]
        elif key in _PERCENT:
            shown = f"{value * 100:.1f} %"
        else:
            shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        rows.append((zh if lang == "zh-CN" else en, shown))
    return rows
