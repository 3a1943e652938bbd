"""``dialer qa`` through the real CLI: the form, scoring a seeded recording, the monthly report."""

from __future__ import annotations

import json
from pathlib import Path

from dialer.cli import main
from tests.conftest import write_config
from tests.recording.test_cli import AFTER, seed

OUTBOUND_ITEMS = ["greeting=2", "can_talk=1", "purpose=1", "prepared=1", "mandarin=1", "tone=2", "confirm=1",
                  "other_needs=1", "reminder=0", "customer_hangs_up_first=1"]  # fmt: skip


def test_form_lists_items_in_chinese(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--config", str(write_config(tmp_path)), "qa", "form"]) == 0
    out = capsys.readouterr().out
    assert "质检评分表 2026-11（权重合计 100）" in out and "客户挂断后再放下电话" in out


def test_score_then_report(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()
    cfg = str(write_config(tmp_path))
    args = ["--config", cfg, "qa", "score", "1", "--scorer", "li", *[a for i in OUTBOUND_ITEMS for a in ("--item", i)]]
    assert main(args, clock=AFTER) == 0  # the score is stamped with the CLI's clock: 1 December 2026
    out = capsys.readouterr().out
    # 95 outbound points, 5 lost on the reminder: 90 / 95
    assert "录音 1 得分 94.7" in out
    assert main(["--config", cfg, "qa", "report", "--month", "2026-12", "--json"], clock=AFTER) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(a["agent"], a["calls"], a["average"]) for a in report["agents"]] == [("agent1", 1, 94.74)]
    assert main(["--config", cfg, "qa", "report", "--month", "2026-12"], clock=AFTER) == 0
    out = capsys.readouterr().out
    assert "2026-12 质检报告（全部坐席）" in out and "贴心提醒" in out and "0%" in out


def test_bad_scorings_are_one_line_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "qa", "score", "1", "--scorer", "li", "--item", "greeting=2"]) == 2
    assert "has no value" in capsys.readouterr().err
    # recording 3 is inbound: can_talk does not apply
    assert (
        main(
            ["--config", cfg, "qa", "score", "3", "--scorer", "li", *[a for i in OUTBOUND_ITEMS for a in ("--item", i)]]
        )
        == 2
    )
    assert "does not apply to inbound calls" in capsys.readouterr().err
    assert main(["--config", cfg, "qa", "score", "99", "--scorer", "li", "--item", "greeting=1"]) == 2
    assert main(["--config", cfg, "qa", "report", "--month", "2026-13"]) == 2


def test_a_broken_form_file_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    form = tmp_path / "form.toml"
    form.write_text('version = "x"\n[[item]]\nid = "a"\nlabel = "English"\nweight = 100\n', encoding="utf-8")
    cfg = write_config(tmp_path, recording={"qa_form": str(form)})
    assert main(["--config", str(cfg), "qa", "form"]) == 2
    assert "must be a Chinese label" in capsys.readouterr().err
