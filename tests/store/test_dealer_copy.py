"""``dialer store copy``: a dealer's SQLite store moved into a group PostgreSQL that holds another dealer.

The stores are filled through the product's own repositories and services (leads imported with their
phones and events, a running campaign with attempts and a recording, SMS, users, suppressions, audit rows).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dialer.audit.service import AuditService
from dialer.backup.dealer_copy import CopyError, copy_dealer
from dialer.campaigns.hopper import Hopper
from dialer.campaigns.service import CampaignService
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, ChainCheck
from dialer.domain.calls.outcome import CallState, Outcome
from dialer.domain.kpi.metrics import Month
from dialer.domain.kpi.targets import TargetKpi
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.pbx.phones import PhoneAccount, ha1
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.recording.registry import RecordingRegistry
from dialer.settings import RecordingSettings, Settings
from dialer.store import dealer_copy
from dialer.store.attempts import AttemptStore
from dialer.store.audit import AuditStore
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database
from dialer.store.kpi_targets import set_target
from dialer.store.leads import LeadStore
from dialer.store.phones import PhoneStore
from dialer.store.recordings import RecordingStore
from dialer.store.sms import NewMessage, SmsStore
from dialer.store.suppressions import SuppressionStore
from dialer.store.users import UserStore
from tests.campaigns.conftest import TZ, World
from tests.conftest import POSTGRESQL_ONLY, START, write_config
from tests.recording.conftest import write_wav


async def fill(path: Path, clock: VirtualClock, tag: str, first: int) -> None:
    """A dealer's store: two leads (three phones), a running campaign, two calls (one recorded), an SMS,
    a suppression, two users and their audit rows. ``tag`` names logins and calls, ``first`` the phones."""
    settings = Settings(recording=RecordingSettings(dir=str(path.parent / "recordings"), compress="none"))
    async with await Database.open(path, clock=clock) as db:
        store = CampaignStore(db, settings)
        hopper = Hopper(store, settings)
        world = World(
            settings, clock, db, LeadStore(db, DueRules(settings.leads, TZ), clock), store, hopper,
            CampaignService(store, hopper, settings, clock), SuppressionStore(db), AttemptStore(db),
        )  # fmt: skip
        audit = AuditService(AuditStore(db), clock)
        users = UserStore(db)
        for login in (f"{tag}-agent", f"{tag}-boss"):
            await users.add(name=login, role=Role.AGENT, agent=login, password_hash="x", at=clock.now())
            await audit.record("cli:it", AuditAction.USER_ADD, login, {"role": "agent"}, dealer_id=1)
        # What every showroom has: an admin, the agent on phone 8001 (its PBX's numbering), the name lead
        # files use for them, the phone's SIP account; per dealer in the group (migration 0195).
        await users.add(name="admin", role=Role.ADMIN, agent=None, password_hash="x", at=clock.now())
        agent = await users.add(name="8001", role=Role.AGENT, agent="8001", password_hash="x", at=clock.now())
        await users.add_alias("王丽", agent, clock.now(), f"{tag}-boss")
        assert await PhoneStore(db).add(PhoneAccount("8001", ha1("8001", tag), clock.now()))
        # The same month's target at every dealer: per dealer in the group.
        await set_target(db, Month(2026, 11), TargetKpi.DEALS, 30, clock.now(), f"{tag}-boss", MAIN_DEALER_ID)
        await more(world, audit, tag, first)


async def more(world: World, audit: AuditService, tag: str, first: int) -> None:
    """Leads, a campaign and its calls, an SMS and a suppression: what a dealer adds in a day."""
    clock, db = world.clock, world.db
    a = await world.lead(f"+86138{first:08d}")
    b = await world.lead(f"+86138{first + 1:08d}", extra_phones=(f"+86138{first + 2:08d}",))
    campaign = await world.campaign(name=f"{tag} 活动")
    for lead in (a, b):
        attempt = await world.call(lead, campaign.id, Outcome.ANSWERED, number=f"+86138{first:08d}")
        await world.leads.record_contact(lead, clock.now(), f"{tag}-agent", Outcome.ANSWERED, attempt_id=attempt)
        clock.advance(60)
    call_id = f"{tag}-rec-{first}"
    registry = RecordingRegistry(
        store=RecordingStore(db), attempts=world.attempts, settings=world.settings, clock=clock
    )
    wav = registry.root / f"{call_id}.wav"
    write_wav(wav, 1.0)
    await world.attempts.create(call_id=call_id, direction="outbound", number=f"+86138{first:08d}",
                                created_at=clock.now(), lead_id=a, campaign_id=campaign.id)  # fmt: skip
    await world.attempts.update_progress(call_id, state=CallState.CONNECTED, connected_at=clock.now())
    await world.attempts.finish(call_id, outcome=Outcome.ANSWERED, ended_at=clock.now(), recording=str(wav))
    attempt = await world.attempts.get(call_id)
    assert attempt is not None and await registry.register_finished(attempt) is not None
    message = NewMessage(f"+86138{first:08d}", "您好", 8, 1, False, None, a, None, f"{tag}-{first}", "sms", clock.now())
    await SmsStore(db).add_message(message, clock.now())
    await world.suppressions.add(f"+86138{first + 2:08d}", "asked", SuppressionSource.CALL, clock.now(), "agent", b)
    await audit.record(f"{tag}-boss", AuditAction.EXPORT, "reports.xlsx", {"month": "2026-11"}, dealer_id=1)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def rows(url: str, sql: str, *params: Any) -> list[Any]:
    async with await Database.open(url) as db, db.read() as r:
        return list(await r.fetchall(sql, params))


async def copy(source: Path, url: str, dealer: str, clock: VirtualClock, **kw: Any) -> Any:
    return await copy_dealer(source, url, dealer, actor="cli:it", clock=clock, **kw)


@pytest.fixture
async def group(store_target: str | Path, tmp_path: Path, clock: VirtualClock) -> str:
    """The group database, holding dealer ``other`` (copied in) and a row of its own in users and audit."""
    assert isinstance(store_target, str)
    other = tmp_path / "other" / "store.sqlite3"
    other.parent.mkdir()
    await fill(other, clock, "other", 10_000)
    async with await Database.open(store_target, clock=clock) as db:
        await UserStore(db).add(name="group-admin", role=Role.ADMIN, agent=None, password_hash="x", at=clock.now())
        await AuditService(AuditStore(db), clock).record("cli:root", AuditAction.USER_ADD, "group-admin", dealer_id=1)
    assert (await copy(other, store_target, "other", clock)).ok
    return store_target


@POSTGRESQL_ONLY
async def test_a_dealer_is_copied_verified_and_a_second_run_copies_only_what_is_new(
    group: str, tmp_path: Path, clock: VirtualClock
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    await fill(source, clock, "d1", 20_000)
    before = digest(source)
    other_before = await rows(group, "SELECT * FROM leads ORDER BY id")
    seen: list[tuple[str, int, int]] = []

    copied = await copy(source, group, "d1", clock, progress=lambda t, d, n: seen.append((t, d, n)))

    assert copied.ok and copied.chain.broken is None
    by_table = {t.table: t for t in copied.tables}
    assert by_table["leads"].inserted == by_table["leads"].target_rows == 2
    assert by_table["lead_phones"].target_rows == 3 and by_table["attempts"].target_rows == 3
    assert by_table["recordings"].target_rows == 1 and by_table["sms_messages"].target_rows == 1
    assert by_table["users"].target_rows == 4 and by_table["audit_log"].target_rows == 3
    assert by_table["kpi_targets"].target_rows == 1
    assert by_table["owner_aliases"].target_rows == by_table["phone_accounts"].target_rows == 1
    assert ("leads", 2, 2) in seen  # progress, rows per table
    assert digest(source) == before  # the source is never written
    assert (
        await rows(group, "SELECT * FROM leads WHERE id IN (SELECT id FROM leads) ORDER BY id LIMIT 2") == other_before
    )

    # References point to the copied rows: an attempt's lead, a lead event's attempt, a recording's lead.
    (attempt,) = await rows(
        group, "SELECT a.id, a.lead_id, p.e164 FROM attempts a JOIN lead_phones p ON p.lead_id = a.lead_id"
        " WHERE a.call_id LIKE 'call-%' AND p.e164 = ?", "+8613800020000",
    )  # fmt: skip
    events = await rows(group, "SELECT data->>'attempt_id' AS a FROM lead_events WHERE lead_id = ?", attempt["lead_id"])
    assert str(attempt["id"]) in {e["a"] for e in events}
    (rec,) = await rows(group, "SELECT r.lead_id FROM recordings r WHERE r.call_id = 'd1-rec-20000'")
    assert rec["lead_id"] == attempt["lead_id"]
    (campaign,) = await rows(group, "SELECT id, status, events_seen FROM campaigns WHERE name = 'd1 活动'")
    assert campaign["status"] == "running"  # only a node of d1 runs it (tenants), once the dealer's node joins
    assert by_table["campaigns"].inserted == 1 and by_table["campaigns"].updated == 0
    # The lead event up to which the campaign applied events is the copy of the dealer's.
    async with await Database.open(source) as db, db.read() as r:
        seen = await r.fetchval("SELECT events_seen FROM campaigns")
    assert seen > 0
    (mapped,) = await rows(group, "SELECT target_id FROM dealer_copy_ids WHERE dealer = 'd1' AND tbl = 'lead_events'"
                           " AND source_id = ?", seen)  # fmt: skip
    assert campaign["events_seen"] == mapped["target_id"]
    # Every copied row is the dealer's, made on the first copy; the other dealer's rows stay its own.
    dealers = {r["code"]: r["id"] for r in await rows(group, "SELECT id, code FROM dealers")}
    assert set(dealers) == {"main", "other", "d1"}
    owners = await rows(group, "SELECT p.e164, p.dealer_id AS p, l.dealer_id AS l FROM lead_phones p"
                        " JOIN leads l ON l.id = p.lead_id")  # fmt: skip
    assert {r["e164"]: r["p"] for r in owners}["+8613800020000"] == dealers["d1"]
    assert all(r["p"] == r["l"] for r in owners) and {r["p"] for r in owners} == {dealers["d1"], dealers["other"]}
    users = {r["name"]: r["dealer_id"] for r in await rows(group, "SELECT name, dealer_id FROM users")}
    assert users["d1-agent"] == dealers["d1"] and users["other-agent"] == dealers["other"]
    # Both dealers' admin, agent 8001, its alias and its phone: each its own dealer's, nothing refused.
    for sql in (
        "SELECT dealer_id FROM users WHERE name = 'admin'",
        "SELECT dealer_id FROM users WHERE agent = '8001'",
        "SELECT a.dealer_id FROM owner_aliases a JOIN users u ON u.id = a.user_id WHERE a.alias = '王丽'",
    ):
        assert sorted(r["dealer_id"] for r in await rows(group, sql)) == [dealers["other"], dealers["d1"]]
    phones = await rows(group, "SELECT dealer_id, ha1 FROM phone_accounts WHERE endpoint = '8001' ORDER BY dealer_id")
    assert [(r["dealer_id"], r["ha1"]) for r in phones] == [
        (dealers["other"], ha1("8001", "other")),
        (dealers["d1"], ha1("8001", "d1")),
    ]

    # The group's chain holds: the copied rows, marked, then one row recording the copy itself.
    chain = ChainCheck()
    async with await Database.open(group) as db:
        async for page in AuditStore(db).chain():
            chain.feed(page)
    assert chain.broken is None
    last = await rows(group, "SELECT action, target, detail FROM audit_log ORDER BY id DESC LIMIT 2")
    assert last[0]["action"] == "store.copy" and last[0]["target"] == "d1"
    assert '"copied_from_dealer":"d1"' in last[1]["detail"]
    # Each copied row, and the copy's own, is the copied dealer's: its people see them in the group's log.
    copied_rows = await rows(group, "SELECT dealer_id, encoding FROM audit_log WHERE detail LIKE ?"
                             " OR (action = 'store.copy' AND target = 'd1')", '%"copied_from_dealer":"d1"%')  # fmt: skip
    assert len(copied_rows) == 4 and {(r["dealer_id"], r["encoding"]) for r in copied_rows} == {(dealers["d1"], 2)}

    # Again: nothing new, nothing written (not even an audit row).
    audit_rows = len(await rows(group, "SELECT id FROM audit_log"))
    again = await copy(source, group, "d1", clock)
    assert again.ok and again.written == 0
    assert len(await rows(group, "SELECT id FROM audit_log")) == audit_rows

    # The dealer works on: new rows (and a changed lead) are copied, nothing else.
    clock.advance(3600)
    async with await Database.open(source, clock=clock) as db:
        settings = Settings(recording=RecordingSettings(dir=str(source.parent / "recordings"), compress="none"))
        store = CampaignStore(db, settings)
        hopper = Hopper(store, settings)
        world = World(
            settings, clock, db, LeadStore(db, DueRules(settings.leads, TZ), clock), store, hopper,
            CampaignService(store, hopper, settings, clock), SuppressionStore(db), AttemptStore(db),
        )  # fmt: skip
        await more(world, AuditService(AuditStore(db), clock), "d1", 30_000)
    third = await copy(source, group, "d1", clock)
    assert third.ok
    by_table = {t.table: t for t in third.tables}
    assert by_table["leads"].inserted == 2 and by_table["leads"].target_rows == 4
    assert by_table["users"].inserted == 0 and by_table["audit_log"].inserted == 1
    # The other dealer is untouched: copying it again finds nothing to do.
    assert (await copy(tmp_path / "other" / "store.sqlite3", group, "other", clock)).written == 0


@POSTGRESQL_ONLY
async def test_a_copy_killed_mid_table_is_run_again_and_completes(
    group: str, tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    await fill(source, clock, "d1", 20_000)
    monkeypatch.setattr(dealer_copy, "BATCH", 1)

    def killed(table: str, done: int, total: int) -> None:
        if table == "lead_events" and done == 2:
            raise KeyboardInterrupt  # two batches of lead_events are committed, the rest is not

    with pytest.raises(KeyboardInterrupt):
        await copy(source, group, "d1", clock, progress=killed)
    partly = await rows(group, "SELECT COUNT(*) AS n FROM dealer_copy_ids WHERE dealer = 'd1' AND tbl = 'lead_events'")
    assert partly[0]["n"] == 2
    done = await copy(source, group, "d1", clock)
    assert done.ok
    events = {t.table: t for t in done.tables}["lead_events"]
    assert events.target_rows == events.source_rows > 2 and events.inserted == events.source_rows - 2


@POSTGRESQL_ONLY
async def test_a_call_id_another_dealer_has_refuses_the_copy_before_writing(
    group: str, tmp_path: Path, clock: VirtualClock
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    await fill(source, clock, "other", 10_000)  # the other dealer's logins, call ids and numbers
    with pytest.raises(CopyError) as error:
        await copy(source, group, "d1", clock)
    message = str(error.value)
    assert "recordings.call_id: other-rec-10000" in message and "nothing was copied" in message
    # Logins, identities, aliases and numbers may be each dealer's.
    assert "users" not in message and "owner_aliases" not in message
    assert "lead_phones" not in message and "suppressions" not in message
    assert await rows(group, "SELECT * FROM dealer_copy_ids WHERE dealer = 'd1'") == []


@POSTGRESQL_ONLY
def test_wrong_inputs_are_refused_naming_what_and_where(
    store_target: str | Path, tmp_path: Path, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(store_target, str)
    good = tmp_path / "d1.sqlite3"
    future = tmp_path / "future.sqlite3"

    async def stores() -> None:
        async with await Database.open(good, clock=clock):
            pass
        async with await Database.open(future, clock=clock) as db, db.write() as tx:
            await tx.execute("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 'x', 'x')")

    asyncio.run(stores())
    text = tmp_path / "notes.txt"
    text.write_text("not a database " * 100, encoding="utf-8")
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    cases = {
        (str(tmp_path / "missing.sqlite3"), store_target, "d1"): "no such file",
        (str(text), store_target, "d1"): "cannot read it as a dialer store",
        (str(other), store_target, "d1"): "not a dialer store (no schema_migrations)",
        (str(future), store_target, "d1"): "9999_from_the_future.sql that this code does not have",
        (str(good), str(tmp_path / "group.sqlite3"), "d1"): "must be a postgresql:// URL",
        (str(good), store_target, "D1; DROP TABLE leads"): "use 1-32 lowercase letters, digits or inner '-'",
        ("mysql://h/db", store_target, "d1"): "the dealer's store is a SQLite file",
    }
    cfg = str(write_config(tmp_path))
    for (source, target, dealer), expected in cases.items():
        argv = ["--config", cfg, "--lang", "en", "store", "copy", "--from", source, "--to", target, "--dealer", dealer]
        assert main(argv, clock=VirtualClock(START)) == 2, source
        err = capsys.readouterr().err
        assert "store copy refused" in err and expected in err, (source, err)
    assert not (tmp_path / "group.sqlite3").exists()


@POSTGRESQL_ONLY
def test_the_command_prints_tables_counts_and_checksums(
    group: str, tmp_path: Path, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    asyncio.run(fill(source, clock, "d1", 20_000))
    cfg = str(write_config(tmp_path))
    capsys.readouterr()
    argv = ["--config", cfg, "--lang", "en", "store", "copy", "--from", f"sqlite:///{source}", "--to", group,
            "--dealer", "d1"]  # fmt: skip
    assert main(argv, clock=VirtualClock(START + timedelta(days=1))) == 0
    captured = capsys.readouterr()
    assert "checksum ok" in captured.out and "dealer d1: copied and verified" in captured.out
    leads = next(line for line in captured.out.splitlines() if line.startswith("leads "))
    assert leads.split() == ["leads", "2", "2", "2", "0", "0", "yes"]
    assert "group audit chain:" in captured.out and "holds" in captured.out
    assert "leads: 2/2 rows" in captured.err


def test_every_table_of_the_schema_is_copied_or_left_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"

    async def tables() -> set[str]:
        async with await Database.open(path) as db, db.read() as r:
            found = await r.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {row["name"] for row in found}

    schema = asyncio.run(tables())
    copied = {plan.name for plan in dealer_copy.COPIED}
    assert not copied & set(dealer_copy.NOT_COPIED)
    assert schema - copied - set(dealer_copy.NOT_COPIED) == set(), "decide: copy it (COPIED) or say why not"
    assert (copied | set(dealer_copy.NOT_COPIED)) - schema == set()
    assert all(reason for reason in dealer_copy.NOT_COPIED.values())


TAMPERINGS = {
    "an edited audit row": (
        ("DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET actor = 'someone-else' WHERE id = 2"),
        r"nothing was copied: the dealer's audit log is broken at id 2 \(edited\); run dialer audit verify",
    ),
    "an attempt of a lead that is not there": (
        ("UPDATE attempts SET lead_id = 999 WHERE id = 1",),
        "attempts row 1: lead_id = 999 names a row of leads that is not in the dealer's store",
    ),
    "a store of several dealers": (
        ("INSERT INTO dealers (code, name, created_at) VALUES ('b', '', '2026-11-29T00:00:00.000000Z')",),
        r"the store holds 2 dealers \(main, b\); a dealer's own store holds one",
    ),
    "a lead event that is not JSON": (
        ("DROP TRIGGER lead_events_no_update", "UPDATE lead_events SET data = '{not json' WHERE id = 1"),
        "lead_events row 1: data is not JSON",
    ),
}


@POSTGRESQL_ONLY
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
async def test_a_tampered_or_inconsistent_source_is_refused_naming_the_row(
    group: str, tmp_path: Path, clock: VirtualClock, tampering: str
) -> None:
    statements, expected = TAMPERINGS[tampering]
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    await fill(source, clock, "d1", 20_000)
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA ignore_check_constraints = ON")  # as someone editing the file by hand
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()
    with pytest.raises(CopyError, match=expected):
        await copy(source, group, "d1", clock)
    # The table that failed has nothing of the dealer's; the audit row of a copy is not written.
    table = expected.split(" ", 1)[0] if "row" in expected else "users"
    assert await rows(group, f"SELECT * FROM dealer_copy_ids WHERE dealer = 'd1' AND tbl = '{table}'") == []
    assert await rows(group, "SELECT * FROM audit_log WHERE action = 'store.copy' AND target = 'd1'") == []


@POSTGRESQL_ONLY
def test_a_copy_edited_in_the_group_database_is_a_difference_and_the_command_exits_1(
    group: str, tmp_path: Path, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()

    async def copied_then_edited() -> None:
        await fill(source, clock, "d1", 20_000)
        assert (await copy(source, group, "d1", clock)).ok
        # Someone with the database drops the trigger and edits a copied audit row: a second run cannot
        # rewrite the chain (it appends only), so the difference stays and is reported.
        async with await Database.open(group) as db, db.write() as tx:
            await tx.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            await tx.execute(
                "UPDATE audit_log SET actor = 'someone-else' WHERE id = (SELECT target_id FROM dealer_copy_ids"
                " WHERE dealer = 'd1' AND tbl = 'audit_log' AND source_id = 2)"
            )

    asyncio.run(copied_then_edited())
    cfg = str(write_config(tmp_path))
    capsys.readouterr()
    argv = ["--config", cfg, "--lang", "en", "store", "copy", "--from", str(source), "--to", group, "--dealer", "d1"]
    assert main(argv, clock=VirtualClock(START)) == 1
    captured = capsys.readouterr()
    audit = next(line for line in captured.out.splitlines() if line.startswith("audit_log "))
    assert audit.split()[-1] == "NO" and "group audit chain:" in captured.out and "BROKEN at id" in captured.out
    assert "the copy differs from the dealer's store in: audit_log" in captured.err


@POSTGRESQL_ONLY
def test_a_number_the_group_suppresses_already_is_left_out_and_said(
    group: str, tmp_path: Path, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "d1" / "store.sqlite3"
    source.parent.mkdir()
    asyncio.run(fill(source, clock, "d1", 10_000))  # the other dealer's customers, d1's own people and calls
    cfg = str(write_config(tmp_path))
    capsys.readouterr()
    argv = ["--config", cfg, "--lang", "en", "store", "copy", "--from", str(source), "--to", group, "--dealer", "d1"]
    assert main(argv, clock=VirtualClock(START)) == 0
    out = capsys.readouterr().out
    assert "suppressions: 1 row(s) left out: another dealer's entry in the group already says the same" in out
    assert next(line for line in out.splitlines() if line.startswith("suppressions ")).split() == [
        "suppressions", "0", "0", "0", "0", "0", "yes",
    ]  # fmt: skip
    found = asyncio.run(rows(group, "SELECT d.code FROM suppressions s JOIN dealers d ON d.id = s.dealer_id"))
    assert [r["code"] for r in found] == ["other"]  # still suppressed for every dealer, by the other's entry
    assert main(argv, clock=VirtualClock(START)) == 0  # and again: nothing to do
    assert "rows written now" in capsys.readouterr().out
