from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import IntentLevel, LeadEventKind, LeadSource, LeadState
from dialer.leads.service import LeadService
from tests.conftest import START
from tests.leads.xlsx_parts import declare_dimension

HEAD = ["姓名", "手机", "电话", "线索来源", "意向车型", "意向级别", "下发时间", "负责人", "备注"]


async def events(service: LeadService, lead_id: int, kind: LeadEventKind) -> list[dict]:
    return [dict(e.data) for e in await service.store.events(lead_id) if e.kind == kind.value]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_csv_and_xlsx_import_the_same_leads(service: LeadService, sheet, suffix: str) -> None:
    path = sheet(
        f"hq.{suffix}",
        HEAD,
        [
            ["张三", "13800138000", "010-88886666", "", "科鲁泽", "H级", "2026-11-28 10:00", "王丽", ""],
            ["李四", 13900139000, None, "网络", "迈锐宝", "A", None, None, "周末方便"],
        ],
    )
    report = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    assert (report.rows, report.created, report.rejected_rows) == (2, 2, 0)
    a = await service.store.find_by_phone("+8613800138000")
    b = await service.store.find_by_phone("+8613900139000")
    assert a is not None and b is not None
    assert (a.name, a.source, a.intent, a.owner, a.state) == (
        "张三",
        LeadSource.HQ,
        IntentLevel.H,
        "王丽",
        LeadState.NEW,
    )
    assert a.issued_at == datetime(2026, 11, 28, 2, tzinfo=UTC)
    assert a.due_at == a.issued_at + timedelta(hours=48) and a.due_kind == "first_follow_up"
    assert [p.e164 for p in a.phones] == ["+8613800138000", "+861088886666"]
    assert (b.source, b.note, b.owner) == (LeadSource.WEB, "周末方便", None)
    created = await events(service, a.id, LeadEventKind.CREATED)
    assert created == [{"import_id": report.import_id, "row": 2, "source": "hq", "owner": "王丽"}]


async def test_english_headers_import(service: LeadService, sheet) -> None:
    path = sheet(
        "en.csv",
        ["Customer Name", "Mobile", "Lead Source", "Intent Level", "Owner"],
        [["Wang", "+86 138 0013 8000", "web", "b", "Li"]],
    )
    report = await service.importer.import_file(path, actor="tester")
    lead = await service.store.find_by_phone("+8613800138000")
    assert report.created == 1 and lead is not None
    assert (lead.name, lead.source, lead.intent, lead.owner) == ("Wang", LeadSource.WEB, IntentLevel.B, "Li")


async def test_gbk_csv_from_chinese_excel_is_read(service: LeadService, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("姓名,手机,线索来源\r\n张三,13800138000,低意向\r\n".encode("gbk"))
    report = await service.importer.import_file(path, actor="tester")
    lead = await service.store.find_by_phone("+8613800138000")
    assert report.created == 1 and lead is not None and lead.source is LeadSource.LOW_INTENT


async def test_rejected_rows_name_row_field_value_and_reason_and_valid_rows_still_import(
    service: LeadService, sheet
) -> None:
    path = sheet(
        "mixed.csv",
        HEAD,
        [
            ["好人", "13800138000", "", "", "", "", "", "", ""],
            ["", "12345", "", "", "", "X", "", "", ""],
            ["无号", "", "", "", "", "", "", "", ""],
        ],
    )
    report = await service.importer.import_file(path, actor="tester", source=LeadSource.WEB)
    assert report.created == 1
    assert [(r.row, r.field, r.value, r.reason) for r in report.rejections] == [
        (3, "姓名", "", "empty"),
        (3, "手机", "12345", "not a valid number"),
        (3, "意向级别", "X", "intent level must be H, A, B or C"),
        (4, "手机", "", "no phone number"),
    ]
    assert report.rejected_rows == 2


async def test_duplicates_in_the_file_merge_into_the_first_row(service: LeadService, sheet) -> None:
    path = sheet(
        "dups.csv",
        HEAD,
        [
            ["张三", "13800138000", "", "", "", "", "", "", ""],
            ["李四", "13900139000", "", "", "", "", "", "", ""],
            ["张三", "138-0013-8000", "021-68881234", "", "科鲁泽", "B", "", "", "第二次留资"],
            ["张三", "", "02168881234", "", "迈锐宝", "H", "", "", ""],
            ["王五", "+8613900139000", "", "", "", "", "", "", ""],
        ],
    )
    report = await service.importer.import_file(path, actor="tester", source=LeadSource.WEB)
    assert (report.created, report.rejected_rows) == (2, 0)
    assert [(m.row, m.into_row) for m in report.merged] == [(4, 2), (5, 2), (6, 3)]
    assert [(n.row, n.name, n.kept_name) for n in report.name_mismatches] == [(6, "王五", "李四")]
    lead = await service.store.find_by_phone("+862168881234")
    assert lead is not None and lead.name == "张三"
    # The first row wins; later rows only fill what it left empty (row 4 before row 5).
    assert (lead.model, lead.intent, lead.note) == ("科鲁泽", IntentLevel.B, "第二次留资")
    assert [p.e164 for p in lead.phones] == ["+8613800138000", "+862168881234"]
    assert await events(service, lead.id, LeadEventKind.CREATED) == [
        {"import_id": report.import_id, "row": 2, "source": "web", "owner": None, "merged_rows": [4, 5]}
    ]
    assert await service.store.count() == 2


async def test_a_row_joining_two_different_leads_is_refused_not_guessed(service: LeadService, sheet) -> None:
    path = sheet(
        "bridge.csv",
        HEAD,
        [
            ["张三", "13800138000", "", "", "", "", "", "", ""],
            ["李四", "13900139000", "", "", "", "", "", "", ""],
            ["张三", "13800138000", "13900139000", "", "", "", "", "", ""],
        ],
    )
    report = await service.importer.import_file(path, actor="tester", source=LeadSource.WEB)
    assert report.created == 2
    assert [(r.row, r.field, r.reason) for r in report.rejections] == [
        (4, "手机/电话", "numbers belong to different leads: row 2, row 3")
    ]


async def test_duplicates_against_the_store_fill_blanks_and_never_double(service: LeadService, sheet) -> None:
    first = sheet(
        "first.csv",
        HEAD,
        [
            ["张三", "13800138000", "", "", "科鲁泽", "", "", "", ""],
            ["李四", "13900139000", "", "", "", "", "", "", ""],
        ],
    )
    await service.importer.import_file(first, actor="tester", source=LeadSource.WEB)
    second = sheet(
        "second.csv",
        HEAD,
        [
            ["张三", "13800138000", "010-88886666", "", "迈锐宝", "A", "", "", ""],
            ["某人", "13800138000", "13900139000", "", "", "", "", "", ""],
            ["赵六", "13700137000", "", "", "", "", "", "", ""],
            ["李四", "+86 139 0013 9000", "", "", "", "", "", "", ""],
        ],
    )
    report = await service.importer.import_file(second, actor="tester", source=LeadSource.HQ)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert [(r.row, r.reason) for r in report.rejections] == [
        (3, "numbers belong to different leads: lead #1, lead #2")
    ]
    assert await service.store.count() == 3
    zhang = await service.store.find_by_phone("+861088886666")
    assert zhang is not None and zhang.id == 1
    # Stored values win, blanks are filled, the source is never changed by an import.
    assert (zhang.model, zhang.intent, zhang.source) == ("科鲁泽", IntentLevel.A, LeadSource.WEB)
    assert await events(service, 1, LeadEventKind.UPDATED) == [
        {"import_id": report.import_id, "row": 2, "fields": {"intent": "A"}, "phones_added": ["+861088886666"]}
    ]


async def snapshot(service: LeadService) -> dict[str, list[tuple]]:
    async with service.store._db.read() as r:  # the raw tables: nothing may differ
        return {
            t: [tuple(row) for row in await r.fetchall(f"SELECT * FROM {t} ORDER BY {key}")]
            for t, key in (
                ("leads", "id"),
                ("lead_phones", "e164"),
                ("lead_events", "id"),
                ("lead_imports", "id"),
                ("lead_import_rejects", "import_id, row, field, col"),
            )
        }


async def test_reimporting_the_same_file_changes_nothing(service: LeadService, sheet, clock: VirtualClock) -> None:
    path = sheet(
        "hq.xlsx",
        HEAD,
        [
            ["张三", "13800138000", "", "", "科鲁泽", "H", "2026-11-28 10:00", "王丽", ""],
            ["张三", "13800138000", "010-88886666", "", "", "", "", "李强", ""],
            ["坏号", "123", "", "", "", "", "", "", ""],
        ],
    )
    first = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    assert (first.created, len(first.merged), first.rejected_rows, len(first.conflicts)) == (1, 1, 1, 1)
    before = await snapshot(service)
    clock.advance(3600)
    again = await service.importer.import_file(path, actor="someone else", source=LeadSource.HQ, force=True)
    assert again.nothing_changed and again.import_id is None and not again.skipped
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert again.previous is not None and (again.previous.id, again.previous.at) == (first.import_id, START)
    assert [(c.row, c.owner, c.claimant, c.logged) for c in again.conflicts] == [(3, "王丽", "李强", False)]
    assert again.rejected_rows == 1
    assert await snapshot(service) == before


async def test_ownership_first_entry_wins_and_the_claim_is_logged_once(service: LeadService, sheet) -> None:
    dcc = sheet("dcc.csv", ["姓名", "手机"], [["张三", "13800138000"], ["李四", "13900139000"]])
    await service.importer.import_file(dcc, actor="dcc", source=LeadSource.WEB, owner="王丽")
    showroom = sheet("showroom.csv", ["姓名", "手机", "负责人"], [["张三", "13800138000", "展厅小刘"]])
    report = await service.importer.import_file(showroom, actor="showroom", source=LeadSource.LOW_INTENT)
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None and lead.owner == "王丽"
    assert [(c.row, c.lead_id, c.owner, c.claimant, c.logged) for c in report.conflicts] == [
        (2, lead.id, "王丽", "展厅小刘", True)
    ]
    assert await events(service, lead.id, LeadEventKind.OWNERSHIP_CONFLICT) == [
        {"import_id": report.import_id, "row": 2, "owner": "王丽", "claimant": "展厅小刘"}
    ]
    # The same claim in another file is reported again but not logged twice.
    again = sheet("showroom2.csv", ["姓名", "手机", "负责人", "备注"], [["张三", "13800138000", "展厅小刘", "再次"]])
    report2 = await service.importer.import_file(again, actor="showroom", source=LeadSource.LOW_INTENT)
    assert [c.logged for c in report2.conflicts] == [False]
    assert len(await events(service, lead.id, LeadEventKind.OWNERSHIP_CONFLICT)) == 1


async def test_an_unowned_lead_is_assigned_to_the_first_owner_named(service: LeadService, sheet) -> None:
    await service.importer.import_file(
        sheet("a.csv", ["姓名", "手机"], [["张三", "13800138000"]]), actor="t", source=LeadSource.HQ
    )
    report = await service.importer.import_file(
        sheet("b.csv", ["姓名", "手机", "负责人"], [["张三", "13800138000", "王丽"], ["张三", "13800138000", "李强"]]),
        actor="manager",
        source=LeadSource.HQ,
    )
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None and lead.owner == "王丽" and lead.owned_at is not None
    assert [(c.row, c.owner, c.claimant) for c in report.conflicts] == [(3, "王丽", "李强")]
    assert await events(service, lead.id, LeadEventKind.ASSIGNED) == [
        {"import_id": report.import_id, "row": 2, "owner": "王丽"}
    ]


async def test_an_opt_out_in_any_row_is_honoured(service: LeadService, sheet) -> None:
    path = sheet("o.csv", ["姓名", "手机", "免打扰"], [["张三", "13800138000", "否"], ["张三", "13800138000", "是"]])
    await service.importer.import_file(path, actor="t", source=LeadSource.WEB)
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None and lead.opt_out_at is not None and lead.due_at is None


async def test_unreadable_files_are_refused_whole(service: LeadService, tmp_path: Path, sheet) -> None:
    text = tmp_path / "x.txt"
    text.write_text("姓名,手机\n")
    with pytest.raises(ImportFileError, match=re.escape("unsupported file type '.txt'")):
        await service.importer.import_file(text, actor="t")
    with pytest.raises(ImportFileError, match="no such file"):
        await service.importer.import_file(tmp_path / "missing.csv", actor="t")
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        await service.importer.import_file(bad, actor="t")
    with pytest.raises(ImportFileError, match="missing column"):
        await service.importer.import_file(sheet("nohead.csv", ["foo", "bar"], [["1", "2"]]), actor="t")


async def test_the_documented_sample_imports_cleanly(service: LeadService) -> None:
    sample = Path(__file__).parents[2] / "docs" / "leads-sample.csv"
    report = await service.importer.import_file(sample, actor="t")
    assert (report.rows, report.created, report.rejections, report.ignored_headers) == (4, 4, (), ())
    wang = await service.store.find_by_phone("+8613700137000")
    assert wang is not None and (wang.source, wang.defeat_reason) == (LeadSource.DEFEATED, "价格原因")
    assert wang.due_at == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # 2 days after the 17:30 hand-over


async def test_real_excel_date_cells_are_local_times(service: LeadService, sheet) -> None:
    path = sheet(
        "dates.xlsx",
        ["姓名", "手机", "下发时间", "购车日期", "线索来源"],
        [["张三", 13800138000, datetime(2026, 11, 28, 10, 0), datetime(2019, 5, 1), "基盘客户"]],
    )
    report = await service.importer.import_file(path, actor="t")
    lead = await service.store.find_by_phone("+8613800138000")
    assert report.created == 1 and lead is not None
    assert lead.issued_at == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert lead.purchase_date is not None and lead.purchase_date.isoformat() == "2019-05-01"


SKIP_ROWS = [
    ["张三", "13800138000", "", "", "科鲁泽", "H", "2026-11-28 10:00", "王丽", ""],
    ["坏号", "123", "", "", "", "", "", "", ""],
]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_the_same_bytes_are_recognised_and_skipped(
    service: LeadService, sheet, clock: VirtualClock, suffix: str
) -> None:
    path = sheet(f"hq.{suffix}", HEAD, SKIP_ROWS)
    first = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    before = await snapshot(service)
    clock.advance(3600)
    progress: list[object] = []
    again = await service.importer.import_file(
        path.rename(path.with_name(f"renamed.{suffix}")), actor="other", source=LeadSource.HQ, progress=progress.append
    )
    assert again.skipped and again.nothing_changed and progress == []  # not read at all
    assert (again.rows, again.created, again.rejections) == (0, 0, ())
    assert again.previous is not None
    assert (again.previous.id, again.previous.at, again.previous.file_name) == (first.import_id, START, f"hq.{suffix}")
    assert (again.previous.rows, again.previous.created, again.previous.rejected) == (2, 1, 1)
    assert await snapshot(service) == before


async def test_one_changed_byte_or_another_recipe_is_read_again(service: LeadService, sheet) -> None:
    path = sheet("hq.csv", HEAD, SKIP_ROWS)
    await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"H,2026", b"A,2026"))
    assert len(path.read_bytes()) == len(data) and path.read_bytes() != data
    changed = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    assert not changed.skipped and (changed.rows, changed.unchanged) == (2, 1)  # the lead keeps its H
    other_owner = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ, owner="李强")
    assert not other_owner.skipped and other_owner.rows == 2
    assert (await service.importer.import_file(path, actor="tester", source=LeadSource.HQ, owner="李强")).skipped


async def test_a_run_that_changed_nothing_is_recorded_so_the_next_one_skips(service: LeadService, sheet) -> None:
    """Other bytes, the same leads: nothing to write, but the file is recorded, so importing it again is skipped."""
    await service.importer.import_file(sheet("a.csv", HEAD, SKIP_ROWS[:1]), actor="t", source=LeadSource.HQ)
    copy = sheet("b.xlsx", HEAD, SKIP_ROWS[:1])
    seen = await service.importer.import_file(copy, actor="t", source=LeadSource.HQ)
    assert not seen.skipped and (seen.created, seen.unchanged) == (0, 1) and seen.import_id is not None
    assert (await service.importer.import_file(copy, actor="t", source=LeadSource.HQ)).skipped


async def test_a_forced_reimport_never_undoes_the_agents_work(service: LeadService, sheet, clock: VirtualClock) -> None:
    path = sheet("hq.csv", HEAD, SKIP_ROWS)
    await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None
    clock.advance(3600)
    await service.store.change_state(lead.id, LeadState.FOLLOWING, clock.now(), "agent1", intent=IntentLevel.B)
    [moved] = await service.store.transfer([lead.id], "赵敏", clock.now(), "经理", "cover")
    assert moved.changed
    worked = await service.store.get(lead.id)
    assert (worked.state, worked.intent, worked.owner) == (LeadState.FOLLOWING, IntentLevel.B, "赵敏")
    clock.advance(3600)
    assert (await service.importer.import_file(path, actor="tester", source=LeadSource.HQ)).skipped
    forced = await service.importer.import_file(path, actor="tester", source=LeadSource.HQ, force=True)
    assert not forced.skipped and forced.created == 0
    assert [(c.owner, c.claimant) for c in forced.conflicts] == [("赵敏", "王丽")]  # reported, not taken back
    assert await service.store.get(lead.id) == worked


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_progress_counts_rows_of_about_the_total(service: LeadService, sheet, suffix: str) -> None:
    rows = [[f"客户{i}", str(13600000000 + i), "", "", "", "", "", "", ""] for i in range(12_000)]
    path = sheet(f"big.{suffix}", HEAD, rows)
    if suffix == "xlsx":
        declare_dimension(path, "A1:I12001")  # the workbook's size, as Excel declares it
    seen: list[tuple[str, int, int | None]] = []
    report = await service.importer.import_file(
        path, actor="t", source=LeadSource.HQ, progress=lambda p: seen.append((p.phase.value, p.rows, p.total))
    )
    assert report.created == 12_000
    assert seen == [("read", 5000, 12_000), ("read", 10_000, 12_000), ("write", 12_000, 12_000)]
