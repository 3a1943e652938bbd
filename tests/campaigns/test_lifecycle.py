"""Campaign lifecycle: legal and illegal commands, the audit trail, status numbers and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.domain.calls.outcome import CallState, Outcome
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command, IllegalCampaignTransition, apply
from dialer.domain.campaigns.progress import CampaignNotFound, ProgressStatus

from .conftest import PHONES, World

LEGAL = {
    (CampaignStatus.DRAFT, Command.START): CampaignStatus.RUNNING,
    (CampaignStatus.DRAFT, Command.STOP): CampaignStatus.STOPPED,
    (CampaignStatus.RUNNING, Command.PAUSE): CampaignStatus.PAUSED,
    (CampaignStatus.RUNNING, Command.STOP): CampaignStatus.STOPPED,
    (CampaignStatus.RUNNING, Command.COMPLETE): CampaignStatus.COMPLETED,
    (CampaignStatus.PAUSED, Command.RESUME): CampaignStatus.RUNNING,
    (CampaignStatus.PAUSED, Command.STOP): CampaignStatus.STOPPED,
}


@pytest.mark.parametrize("status", list(CampaignStatus))
@pytest.mark.parametrize("command", list(Command))
def test_transition_table(status: CampaignStatus, command: Command) -> None:
    if (status, command) in LEGAL:
        assert apply(7, status, command) is LEGAL[(status, command)]
    else:
        with pytest.raises(
            IllegalCampaignTransition, match=f"campaign 7 is {status.value}: '{command.value}' needs status"
        ):
            apply(7, status, command)


def test_final_statuses_have_no_way_out() -> None:
    for status in CampaignStatus:
        assert status.final == all((status, c) not in LEGAL for c in Command)


async def test_commands_are_stored_with_who_and_when(world: World) -> None:
    c = await world.campaign(start=False)
    for command, actor in (
        (Command.START, "主管A"),
        (Command.PAUSE, "主管B"),
        (Command.RESUME, "主管A"),
        (Command.STOP, "主管B"),
    ):
        world.clock.advance(60)
        record, _ = await world.service.command(c.id, command, actor)
    assert record.status is CampaignStatus.STOPPED
    with pytest.raises(IllegalCampaignTransition):
        await world.service.command(c.id, Command.RESUME, "主管A")
    async with world.db.read() as r:
        rows = await r.fetchall(
            "SELECT command, from_status, to_status, actor FROM campaign_events WHERE campaign_id = ? ORDER BY id",
            (c.id,),
        )
    assert [tuple(row) for row in rows] == [
        ("start", "draft", "running", "主管A"),
        ("pause", "running", "paused", "主管B"),
        ("resume", "paused", "running", "主管A"),
        ("stop", "running", "stopped", "主管B"),
    ]
    with pytest.raises(CampaignNotFound):
        await world.service.command(99, Command.START, "x")


async def test_resume_enrols_leads_imported_while_paused(world: World) -> None:
    first = await world.lead(PHONES[1])
    c = await world.campaign()
    await world.service.command(c.id, Command.PAUSE, "s")
    second = await world.lead(PHONES[2])
    _, enrolled = await world.service.command(c.id, Command.RESUME, "s")
    assert enrolled == 1
    assert {p.lead_id for p in await world.hopper.next_batch(c.id, 5, world.clock.now())} == {first, second}


async def test_pause_keeps_live_calls_and_their_results(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    await world.hopper.next_batch(c.id, 1, world.clock.now())
    await world.service.command(c.id, Command.PAUSE, "s")
    # The call placed before the pause ends normally and its result is recorded.
    progress = await world.hopper.record_result(c.id, lead, None, Outcome.BUSY, world.clock.now())
    assert progress.status is ProgressStatus.ACTIVE and progress.attempts == 1


async def test_status_counts_outcomes_and_estimates_the_finish(world: World) -> None:
    for i in range(1, 11):
        await world.lead(PHONES[i])
    c = await world.campaign()
    picks = await world.hopper.next_batch(c.id, 4, world.clock.now())
    outcomes = [Outcome.ANSWERED, Outcome.BUSY, Outcome.NO_ANSWER]
    for pick, outcome in zip(picks[:3], outcomes, strict=True):  # picks[3] is left ringing below
        world.clock.advance(600)
        call_id = f"c{pick.lead_id}"
        await world.attempts.create(
            call_id=call_id,
            direction="outbound",
            number=pick.phone.e164,
            created_at=world.clock.now(),
            lead_id=pick.lead_id,
            campaign_id=c.id,
        )
        if outcome is Outcome.ANSWERED:
            await world.attempts.update_progress(
                call_id, state=CallState.CONNECTED, connected_at=world.clock.now(), agent="agent1"
            )
        await world.attempts.finish(call_id, outcome=outcome, ended_at=world.clock.now())
        await world.hopper.record_result(c.id, pick.lead_id, None, outcome, world.clock.now())
    await world.call(picks[3].lead_id, c.id)  # still ringing
    report = await world.service.status(c.id)
    assert (report.enrolled, report.dialled, report.in_flight, report.connected) == (10, 4, 1, 1)
    assert report.outcomes == {Outcome.ANSWERED: 1, Outcome.BUSY: 1, Outcome.NO_ANSWER: 1}
    assert report.by_status == {ProgressStatus.DONE: 1, ProgressStatus.ACTIVE: 8, ProgressStatus.CLAIMED: 1}
    assert report.remaining == 9
    # 4 attempts in the last hour: 9 remaining leads take 9/4 hours more.
    assert report.rate_per_hour == 4
    assert report.eta == world.clock.now() + timedelta(hours=9 / 4)


async def test_status_without_recent_dials_has_no_eta(world: World) -> None:
    await world.lead(PHONES[1])
    c = await world.campaign()
    report = await world.service.status(c.id)
    assert (report.remaining, report.rate_per_hour, report.eta) == (1, 0, None)


# -- the command line ---------------------------------------------------------------------------


REPO = Path(__file__).parents[2]
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    config = tmp_path / "dialer.toml"
    # Relative paths (DOSS mapping, templates) resolve against the repository; the store is private.
    config.write_text(
        f'base_dir = "{REPO}"\n[store]\npath = "{tmp_path / "cli.sqlite3"}"\n[log]\nlevel = "warning"\n',
        encoding="utf-8",
    )

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_lifecycle_in_chinese_and_json(cli: Cli, tmp_path: Path) -> None:
    sample = REPO / "config" / "campaigns" / "hq.toml"
    code, out, _ = cli("campaign", "create", str(sample))
    assert code == 0 and out.startswith("已创建活动 #1「总部线索首次跟进」（草稿）")
    assert cli("campaign", "start", "1")[1].startswith("活动 #1「总部线索首次跟进」已启动，纳入线索 0 条")
    assert "不再发起新呼叫，进行中的通话不受影响" in cli("campaign", "pause", "1")[1]
    code, _, err = cli("campaign", "pause", "1")
    assert code == 2 and "campaign 1 is paused: 'pause' needs status running" in err
    assert cli("campaign", "resume", "1")[0] == 0
    code, out, _ = cli("campaign", "list")
    assert "总部线索" in out and "进行中" in out and "渐进式" in out
    code, out, _ = cli("campaign", "status", "1", "--json")
    status = json.loads(out)
    assert (status["status"], status["enrolled"], status["remaining"], status["eta"]) == ("running", 0, 0, None)
    assert "预计完成" in cli("campaign", "status", "1")[1]
    assert cli("--lang", "en", "campaign", "stop", "1")[1].startswith("campaign #1 “总部线索首次跟进” stopped")
    code, _, err = cli("campaign", "status", "5")
    assert code == 2 and "campaign 5 does not exist" in err


def test_cli_rejects_a_bad_file_naming_field_and_value(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "hq"\nlines = 30\n', encoding="utf-8")
    code, _, err = cli("campaign", "create", str(bad))
    assert code == 2
    assert f"{bad}: lines = 30: must be between 1 and the PBX's 8 outbound lines" in err


def test_cli_dnc_and_why(cli: Cli, tmp_path: Path) -> None:
    added = cli("dnc", "add", "138 0013 8000", "--reason", "投诉", "--actor", "主管")[1].strip()
    assert added == "+8613800138000 已加入勿扰名单：不再外呼、不再发短信"
    assert "已在勿扰名单中" in cli("dnc", "add", "+8613800138000", "--reason", "再次投诉")[1]
    entries = json.loads(cli("dnc", "list", "--json")[1])
    assert [(e["number"], e["reason"], e["source"], e["by"]) for e in entries] == [
        ("+8613800138000", "投诉", "cli", "主管")
    ]
    code, _, err = cli("dnc", "add", "12345", "--reason", "x")
    assert code == 2 and "not a phone number" in err
    code, _, err = cli("dnc", "add", "13800138001", "--reason", "  ")
    assert code == 2 and "reason" in err
    assert cli("dnc", "remove", "13800138000", "--reason", "客户同意回访")[0] == 0
    assert cli("dnc", "remove", "13800138000", "--reason", "客户同意回访")[0] == 1
    assert cli("dnc", "list")[1].strip() == "勿扰名单中没有匹配的记录。"
    (lifted,) = json.loads(cli("dnc", "list", "--all", "--json", "0013")[1])
    assert (lifted["lift_reason"], lifted["lifted_at"] is not None) == ("客户同意回访", True)
    assert cli("campaign", "why", "42")[1].strip() == "线索 42 不在任何活动中"
    sample = REPO / "config" / "campaigns" / "web.toml"
    cli("campaign", "create", str(sample))
    code, out, _ = cli("campaign", "why", "42", "--campaign", "1")
    assert code == 0 and out.splitlines() == ["线索 42 在活动 #1「网络线索邀约」中：", "  - 线索 42 不存在"]
    answer = json.loads(cli("--lang", "en", "campaign", "why", "42", "--campaign", "1", "--json")[1])
    assert answer == [
        {
            "campaign_id": 1,
            "campaign": "网络线索邀约",
            "dialable": False,
            "reasons": [{"reason": "no_lead", "text": "lead 42 does not exist", "lead": "42"}],
        }
    ]
