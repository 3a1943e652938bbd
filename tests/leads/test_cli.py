"""The ``dialer leads`` command end to end, against a store in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.leads.sheets import write_sheet
from tests.conftest import write_config


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DIALER_CONFIG", raising=False)
    return write_config(tmp_path, store={"path": str(tmp_path / "cli.sqlite3")})


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "leads", *args])


def test_import_due_and_hygiene_print_chinese_tables(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hq.csv"
    write_sheet(
        path,
        ["姓名", "手机", "下发时间", "负责人"],
        [
            ["张三", "13800138000", "2020-01-01 10:00", "王丽"],
            ["李四", "12345", "", ""],
        ],
    )
    assert run(config, "import", str(path), "--source", "hq") == 0
    out, err = capsys.readouterr()
    assert "新建 1" in out and "拒绝 1 行" in out
    assert "12345" in out and "不是有效号码" in out
    assert "正在查重并写入" in err

    assert run(config, "import", str(path), "--source", "hq") == 0
    out, err = capsys.readouterr()
    assert "未变化，已跳过" in out and "批次 #1" in out and "新建 1" in out and "拒绝 1 行" in out
    assert "正在查重并写入" not in err  # not read at all

    assert run(config, "import", str(path), "--source", "hq", "--force") == 0
    out, err = capsys.readouterr()
    assert "本次导入没有任何变更" in out and "该文件已于" in out
    assert "正在查重并写入" in err

    assert run(config, "due", "--overdue") == 0
    out = capsys.readouterr().out
    assert "张三" in out and "首次跟进" in out and "总部下发" in out

    assert run(config, "hygiene", "--month", "2020-01") == 0
    assert "2020-01 数据清洗报告" in capsys.readouterr().out


def test_json_output_and_bad_input(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "web.xlsx"
    write_sheet(path, ["name", "mobile"], [["Wang", "13900139000"]])
    assert run(config, "import", str(path), "--source", "web", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["nothing_changed"], report["rejections"]) == (1, False, [])
    assert (report["skipped"], report["previous"]) == (False, None)
    assert run(config, "import", str(path), "--source", "web", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["skipped"], again["nothing_changed"], again["created"]) == (True, True, 0)
    assert (again["previous"]["id"], again["previous"]["created"]) == (report["import_id"], 1)
    assert again["previous"]["at"].startswith("20")

    assert run(config, "due", "--all", "--json") == 0
    [item] = json.loads(capsys.readouterr().out)
    assert (item["name"], item["phone"], item["source"], item["due_kind"]) == (
        "Wang",
        "+8613900139000",
        "web",
        "first_follow_up",
    )

    assert run(config, "hygiene", "--month", "2026-13") == 2
    assert "expected YYYY-MM" in capsys.readouterr().err
    assert run(config, "import", str(tmp_path / "nope.csv")) == 2
    assert "no such file" in capsys.readouterr().err


def test_template_round_trips(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "template.xlsx"
    assert run(config, "template", str(path)) == 0
    assert "已生成导入模板" in capsys.readouterr().out
    assert run(config, "import", str(path), "--json") == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 0


def test_a_control_character_is_shown_escaped_and_a_bad_encoding_names_the_byte(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ctl.csv"
    write_sheet(path, ["姓名", "手机"], [["李\x00四", "13900139000"], ["张三", "13800138000"]])
    assert run(config, "import", str(path), "--source", "web") == 0
    out = capsys.readouterr().out
    assert "新建 1" in out and "李\\x00四" in out and "含有不可打印的字符" in out and "\x00" not in out

    broken = tmp_path / "broken.csv"
    broken.write_bytes("姓名,手机\r\n".encode("gbk") + b"\xff\r\n")
    assert run(config, "import", str(broken)) == 2
    assert "byte offset 11, line 2 is not" in capsys.readouterr().err


def test_a_long_import_shows_its_progress_on_stderr_and_json_stays_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIALER_CONFIG", raising=False)
    config = write_config(tmp_path, store={"path": str(tmp_path / "cli.sqlite3")}, leads={"import_progress_rows": 5})
    path = tmp_path / "long.csv"
    write_sheet(path, ["姓名", "手机"], [[f"客户{i}", f"1380013{i:04d}"] for i in range(12)])
    assert run(config, "import", str(path), "--source", "hq", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["created"] == 12  # stdout holds the report and nothing else
    assert err.splitlines() == [
        "已读取 5 / 约 12 行（41%）…",
        "已读取 10 / 约 12 行（83%）…",
        "共 12 行，正在查重并写入…",
    ]
    # The same file again is skipped before it is read: no progress at all.
    assert run(config, "import", str(path), "--source", "hq", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["skipped"] is True and err == ""
