"""``dialer doss ...`` through the real CLI entry point, on a store seeded through the real services."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, load_mapping
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.doss.service import DossService
from dialer.settings import LeadSettings
from dialer.store.database import Database
from dialer.store.doss import DossOutbox
from dialer.store.leads import LeadStore
from tests.conftest import REPO, free_port
from tests.conftest import write_config as shared_write_config

from .conftest import TZ

DAY = datetime(2025, 3, 3, 9, 0, tzinfo=TZ)


def write_config(tmp_path: Path, mapping_file: Path = REPO / "config" / "doss_mapping.toml", **sections: dict) -> Path:
    doss = {"mapping_file": str(mapping_file), "export_dir": str(tmp_path / "exports"), **sections.pop("doss", {})}
    return shared_write_config(tmp_path, doss=doss, **sections)


async def _seed(tmp_path: Path) -> list[int]:
    """Two leads on 3 Mar 2025: a booked visit and a defeat; returns the outbox ids."""
    clock = VirtualClock(DAY)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        leads = LeadStore(db, DueRules(LeadSettings(), TZ), clock)
        drafts = [
            LeadDraft(
                row=2, name="张三", phones=(LeadPhone("+8613900000001", PhoneKind.MOBILE),), source=LeadSource.WEB
            ),
            LeadDraft(
                row=3, name="李四", phones=(LeadPhone("+8613900000002", PhoneKind.MOBILE),), source=LeadSource.WEB
            ),
        ]
        await leads.import_drafts(drafts, [], ImportSource("web.csv", "sha", LeadSource.WEB, 2, "手机"), "王经理")
        service = DossService(db, leads, DossOutbox(db), load_mapping(REPO / "config" / "doss_mapping.toml"), clock)
        first = await leads.find_by_phone("+8613900000001")
        second = await leads.find_by_phone("+8613900000002")
        booked = DispositionForm(Disposition.BOOKED_VISIT, visit_at=DAY + timedelta(days=2))
        lost = DispositionForm(Disposition.DEFEATED, defeat_reason="预算不足")
        a = await service.record_disposition(first.id, 1, Outcome.ANSWERED, booked, "王芳")
        b = await service.record_disposition(second.id, 2, Outcome.ANSWERED, lost, "王芳")
        return [a.outbox_id, b.outbox_id]


async def _kill(tmp_path: Path, entry_id: int) -> None:
    clock = VirtualClock(DAY)
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as db:
        await DossOutbox(db).mark_failed(entry_id, "HTTP 422: 手机号格式错误", None)


def test_export_day_to_default_folder(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    assert main(["--config", str(write_config(tmp_path)), "doss", "export", "--date", "2025-03-03"]) == 0
    path = tmp_path / "exports" / "doss-2025-03-03.xlsx"
    assert f"已导出 2 条 DOSS 变更（2025-03-03 至 2025-03-03）：{path}" in capsys.readouterr().out
    names = [row[0] for row in load_workbook(path).active.iter_rows(min_row=2, values_only=True)]
    assert names == ["张三", "李四"]


def test_export_range_to_named_file(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    out = tmp_path / "march.xlsx"
    args = [
        "--config",
        str(write_config(tmp_path)),
        "doss",
        "export",
        "--date",
        "2025-03-04",
        "--to",
        "2025-03-31",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert load_workbook(out).active.max_row == 1  # nothing after the 3rd: headers only
    bad = ["--config", str(write_config(tmp_path)), "doss", "export", "--date", "2025-03-04", "--to", "2025-03-01"]
    assert main(bad) == 2
    assert "before --date" in capsys.readouterr().err


def test_dead_letters_list_and_retry(tmp_path, capsys):
    ids = asyncio.run(_seed(tmp_path))
    asyncio.run(_kill(tmp_path, ids[1]))
    cfg = str(write_config(tmp_path))
    assert main(["--config", cfg, "doss", "dead-letters"]) == 0
    out = capsys.readouterr().out
    assert "李四" in out and "HTTP 422: 手机号格式错误" in out and "张三" not in out
    assert main(["--config", cfg, "doss", "dead-letters", "--retry", str(ids[1])]) == 0
    assert f"死信 #{ids[1]} 已重新排队" in capsys.readouterr().out
    assert main(["--config", cfg, "doss", "dead-letters", "--retry", str(ids[1])]) == 2
    assert "不是死信" in capsys.readouterr().err
    assert main(["--config", cfg, "doss", "dead-letters"]) == 0
    assert "没有死信" in capsys.readouterr().out


def test_push_without_endpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["--config", str(write_config(tmp_path)), "doss", "push", "--once"]) == 2
    assert "doss.endpoint is not set" in capsys.readouterr().err


def test_push_once_reports_connection_failures_as_retries(tmp_path, capsys):
    asyncio.run(_seed(tmp_path))
    # Nothing listens on the port: the connection is refused at once.
    cfg = write_config(tmp_path, doss={"endpoint": f"http://127.0.0.1:{free_port()}/changes"})
    assert main(["--config", str(cfg), "doss", "push", "--once"]) == 0
    out = capsys.readouterr().out
    assert "本轮：送达 0，待重试 2，转入死信 0" in out
    assert "发件箱：待发送 2，已送达 0，死信 0" in out


def test_broken_mapping_names_file_and_pair(tmp_path, capsys):
    text = (REPO / "config" / "doss_mapping.toml").read_text(encoding="utf-8")
    broken = tmp_path / "mapping.toml"
    broken.write_text(text.replace('outcomes = ["vacant"]', 'outcomes = ["machine"]'), encoding="utf-8")
    assert main(["--config", str(write_config(tmp_path, mapping_file=broken)), "doss", "mapping"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err
    assert "mapped twice" in err and "machine" in err


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_mapping_table(tmp_path, capsys, lang):
    assert main(["--config", str(write_config(tmp_path)), "--lang", lang, "doss", "mapping"]) == 0
    out = capsys.readouterr().out
    assert "预约到店" in out
    assert ("战败原因：" if lang == "zh-CN" else "defeat reasons:") in out
