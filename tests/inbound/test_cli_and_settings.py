"""The ``[inbound]`` settings section and ``dialer inbound route`` / ``dialer supervise log`` through the real CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.settings import ConfigError
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.listen_ins import ListenInStore
from tests.conftest import write_config

SEEDED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_inbound_settings_load_with_their_defaults_and_overrides(tmp_path: Path) -> None:
    s = load(write_config(tmp_path, inbound={"owner_ring_s": 10}, **{"inbound.hours": {"sun": ""}}), env={})
    assert (s.inbound.owner_ring_s, s.inbound.queue_wait_s, s.inbound.hours.sun, s.inbound.hours.mon) == (
        10.0,
        45.0,
        "",
        "09:00-20:00",
    )


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"inbound": {"owner_ring_s": 0}}, "inbound.owner_ring_s = 0.0: must be positive"),
        ({"inbound": {"queue_wait_s": -1}}, "inbound.queue_wait_s = -1.0: must be positive"),
        ({"inbound.hours": {"mon": "20:00-09:00"}}, "inbound.hours: campaigns.windows.mon = '20:00-09:00'"),
    ],
)
def test_bad_inbound_settings_are_refused_naming_the_key(tmp_path: Path, sections: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        load(write_config(tmp_path, **sections), env={})
    assert message in str(err.value)


def test_route_of_an_unknown_number_in_chinese_and_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A Monday at 10:00 in Shanghai, inside the shipped opening hours (the route depends on the time:
    # read from the real clock, this test failed every night between 23:59 and midnight).
    clock = VirtualClock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "inbound", "route", "139 0000 0077"], clock=clock) == 0
    out = capsys.readouterr().out
    assert "陌生号码" in out and "进入 DCC 队列" in out
    assert main(["--config", cfg, "inbound", "route", "13900000077", "--json"], clock=clock) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["number"], data["lead_id"], data["route"]) == ("+8613900000077", None, "queue")


def test_route_of_a_bad_number_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(write_config(tmp_path)), "inbound", "route", "12"]) == 2
    assert "NUMBER = '12'" in capsys.readouterr().err


def test_supervise_log_lists_the_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def seed() -> None:
        clock = VirtualClock(SEEDED)
        async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
            store = ListenInStore(db)
            row = await store.open(supervisor="zhang.wei", agent="agent2", phone="supervisor",
                                   channel_id=hashlib.md5(b"x").hexdigest(), mode="listen", at=clock.now())  # fmt: skip
            await store.add_mode(row.id, "barge")
            clock.advance(90)
            await store.close(row.channel_id, clock.now(), "stopped")
            b = await DealerStore(db).ensure("b", "B 店", clock.now())
            await ListenInStore(db, dealer_id=b.id).open(supervisor="b_sup", agent="b_agent", phone="b_phone",
                                                         channel_id="b-leg", mode="listen", at=clock.now())  # fmt: skip

    asyncio.run(seed())
    cfg = str(write_config(tmp_path))
    # A week later the listen-in is within the default 30 days; two months later it is not.
    assert main(["--config", cfg, "supervise", "log"], clock=VirtualClock(SEEDED + timedelta(days=7))) == 0
    out = capsys.readouterr().out
    assert "主管" in out and "zhang.wei" in out and "listen→barge" in out and "90" in out
    assert "b_agent" not in out and "经销商" not in out  # this node's dealer's listen-ins only, by default
    week_later = VirtualClock(SEEDED + timedelta(days=7))
    for whose, agents in ((["--dealer", "b"], ["b_agent"]), (["--group"], ["b_agent", "agent2"])):
        assert main(["--config", cfg, "supervise", "log", "--json", *whose], clock=week_later) == 0
        assert [r["agent"] for r in json.loads(capsys.readouterr().out)] == agents, whose
    assert main(["--config", cfg, "supervise", "log", "--group"], clock=week_later) == 0
    assert "经销商" in capsys.readouterr().out
    assert main(["--config", cfg, "supervise", "log", "--json"], clock=VirtualClock(SEEDED + timedelta(days=60))) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["--config", cfg, "supervise", "log", "--json", "--agent", "agent9"]) == 0
    assert json.loads(capsys.readouterr().out) == []
