"""``dialer recordings`` through the real CLI on a seeded store and folder."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.recordings import NewRecording, RecordingStore
from tests.conftest import START, write_config
from tests.recording.conftest import write_wav

# (call id, number, agent, days after START, direction)
CALLS = [
    ("c1", "+8613800138000", "agent1", 0, Direction.OUTBOUND),
    ("c2", "+8613900139000", "agent2", 0, Direction.OUTBOUND),
    ("c3", "+8613800138000", "agent2", 1, Direction.INBOUND),
]
# The CLI's "now" in these tests: the day after the last seeded call, whatever the machine's date.
AFTER = VirtualClock(START + timedelta(days=2))


def seed(tmp_path: Path) -> None:
    """Three recorded calls over two days (09:00 Shanghai on 29 and 30 Nov 2026)."""

    async def run() -> None:
        clock = VirtualClock(START)
        settings = Settings(recording=RecordingSettings(dir=str(tmp_path / "recordings"), compress="none"))
        async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
            attempts = AttemptStore(db)
            registry = RecordingRegistry(store=RecordingStore(db), attempts=attempts, settings=settings, clock=clock)
            for call_id, number, agent, day, direction in CALLS:
                at = START + timedelta(days=day)
                path = registry.root / f"{at:%Y/%m/%d}" / f"{call_id}.wav"
                write_wav(path, 2.0)
                await attempts.create(call_id=call_id, direction=direction, number=number, created_at=at, agent=agent)
                await attempts.update_progress(call_id, state=CallState.CONNECTED, connected_at=at)
                await attempts.finish(call_id, outcome=Outcome.ANSWERED, ended_at=at, recording=str(path))
                attempt = await attempts.get(call_id)
                assert attempt is not None and await registry.register_finished(attempt) is not None

    asyncio.run(run())


def test_search_by_number_in_any_format_as_a_chinese_table(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    assert main(["--config", str(write_config(tmp_path)), "recordings", "search", "--number", "138 0013 8000"]) == 0
    out = capsys.readouterr().out
    assert "开始时间" in out and "呼入" in out and "呼出" in out
    assert "2026-11-30 09:00:00" in out and "2026-11-29 09:00:00" in out
    assert "+8613900139000" not in out


def test_search_by_date_and_agent_as_json(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "recordings", "search", "--date", "2026-11-29", "--agent", "agent2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["call_id"] for r in found] == ["c2"]
    assert main(["--config", cfg, "recordings", "search", "--date", "2026-11-29", "--to", "2026-11-30", "--json"]) == 0
    assert [r["call_id"] for r in json.loads(capsys.readouterr().out)] == ["c3", "c2", "c1"]


def test_search_needs_a_filter_and_valid_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "recordings", "search"]) == 2
    assert main(["--config", cfg, "recordings", "search", "--number", "12"]) == 2
    assert main(["--config", cfg, "recordings", "search", "--date", "29/11/2026"]) == 2
    err = capsys.readouterr().err
    assert "请至少指定" in err and "--number '12'" in err and "YYYY-MM-DD" in err


def test_reconcile_reports_then_fixes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    cfg = str(write_config(tmp_path))
    (tmp_path / "recordings/2026/11/29/c1.wav").unlink()
    write_wav(tmp_path / "recordings/2026/11/29/stray.wav", 1)
    assert main(["--config", cfg, "--lang", "en", "recordings", "reconcile"]) == 1
    out = capsys.readouterr().out
    assert "files without a registry row: 1" in out and "2026/11/29/stray.wav" in out
    assert "registry rows whose file is gone: 1" in out and "--fix" in out
    assert main(["--config", cfg, "recordings", "reconcile", "--fix", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["call_id"] for r in report["missing"]] == ["c1"] and report["orphan_files"] == ["2026/11/29/stray.wav"]


def test_show_lists_the_history(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    assert main(["--config", str(write_config(tmp_path)), "recordings", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "操作记录" in out and "registered" in out
    assert main(["--config", str(write_config(tmp_path)), "recordings", "show", "99"]) == 2


def test_purge_with_nothing_expired(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    assert main(["--config", str(write_config(tmp_path)), "recordings", "purge"], clock=AFTER) == 0
    assert "已删除 0 条超过 180 天的录音" in capsys.readouterr().out


def test_purge_deletes_what_retention_passed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    capsys.readouterr()
    # Half a day past 180 days after the first day's calls: those two go, the next day's one stays.
    later = VirtualClock(START + timedelta(days=180, hours=12))
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "recordings", "purge", "--json"], clock=later) == 0
    assert sorted(r["call_id"] for r in json.loads(capsys.readouterr().out)) == ["c1", "c2"]
    assert not (tmp_path / "recordings" / "2026" / "11" / "29" / "c1.wav").exists()
    assert (tmp_path / "recordings" / "2026" / "11" / "30" / "c3.wav").exists()


def test_status_json(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "recordings").mkdir()
    cfg = write_config(tmp_path, recording={"low_free_mb": 0, "min_free_mb": 0})
    assert main(["--config", str(cfg), "recordings", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["level"] == "ok" and status["recording_allowed"] is True and status["total_mb"] > 0


def seed_dealer_b(tmp_path: Path) -> int:
    """Dealer b's recording of its own agent1 (every showroom has one) beside main's; its id."""

    async def run() -> int:
        clock = VirtualClock(START)
        async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
            b = await DealerStore(db).ensure("b", "B 店", clock.now())
            await AttemptStore(db, dealer_id=b.id).create(
                call_id="b1", direction=Direction.OUTBOUND, number="+8613700137000", created_at=START, agent="agent1"
            )
            rec = await RecordingStore(db, dealer_id=b.id).add(
                NewRecording(call_id="b1", lead_id=None, campaign_id=None, agent="agent1",
                             direction=Direction.OUTBOUND, path="b/b1.wav", started_at=START, duration_s=2.0,
                             size_bytes=1, sha256="0" * 64),
                at=START, actor="test",
            )  # fmt: skip
            return rec.id

    return asyncio.run(run())


def test_search_and_show_read_one_dealer_or_the_group(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(tmp_path)
    theirs = seed_dealer_b(tmp_path)
    capsys.readouterr()  # the seeding's own log lines
    cfg = str(write_config(tmp_path))
    search = ["--config", cfg, "recordings", "search", "--date", "2026-11-29", "--json"]

    def found(*extra: str) -> list[tuple[str, str]]:
        assert main([*search, *extra]) == 0
        return [(r["call_id"], r["dealer"]) for r in json.loads(capsys.readouterr().out)]

    # This node's dealer by default; --dealer b, or the group's with --group.
    assert found("--agent", "agent1") == [("c1", "main")]
    assert found("--agent", "agent1", "--dealer", "b") == [("b1", "b")]
    assert found("--agent", "b/agent1", "--group") == [("b1", "b")]
    assert found("--group") == [("b1", "b"), ("c2", "main"), ("c1", "main")]
    # Group-wide, a plain agent could be either dealer's agent1.
    assert main([*search, "--agent", "agent1", "--group"]) == 2
    assert "请写成 经销商代码/坐席（如 b/agent1）" in capsys.readouterr().err
    assert main(["--lang", "en", *search, "--agent", "agent1", "--group"]) == 2
    assert "write it as CODE/AGENT (e.g. b/agent1)" in capsys.readouterr().err
    # Another dealer's agent without --group (or that dealer): not what this command reads.
    assert main([*search, "--agent", "b/agent1"]) == 2
    assert "--agent b/agent1：b 不是本命令读取的经销商" in capsys.readouterr().err
    # The table names each recording's dealer where several dealers' mix.
    assert main(["--config", cfg, "recordings", "search", "--date", "2026-11-29", "--group"]) == 0
    out = capsys.readouterr().out
    assert "经销商" in out and "main" in out
    assert main(["--config", cfg, "recordings", "search", "--date", "2026-11-29"]) == 0
    assert "经销商" not in capsys.readouterr().out

    # Another dealer's recording: exit 2 naming its dealer, unless asked for with its dealer or the group.
    show = ["--config", cfg, "recordings", "show", str(theirs)]
    assert main(show) == 2
    assert f"录音 {theirs} 属于经销商 b" in capsys.readouterr().err
    assert main([*show, "--dealer", "b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dealer"] == "b"
    assert main([*show, "--group"]) == 0
    assert "经销商" in capsys.readouterr().out  # the group's view names the dealer
