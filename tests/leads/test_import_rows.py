"""The rows an import writes, compared with golden rows saved before the import was made faster.

Three lead files (tests/leads/data/import_rows_*.csv) are imported in turn into one store: a UTF-8
file with a BOM (every source and portal, owners by login, identity and alias, an owner nobody goes
by, duplicates within the file, a cell with a line break, and a refused cell of every kind), a
GB18030 file meeting those leads in the store (fills, new numbers, an HQ re-issue of a defeated
lead, ownership conflicts, an opt-out, a row pointing at two leads), and a UTF-16 one with a default
owner; then the first file again, forced, and the second again (skipped). Every table an import
writes, and every report, must come out exactly as tests/leads/data/import_rows.json has them.

To regenerate the golden rows after a change that is meant to change them:
``DIALER_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/leads/test_import_rows.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.leads.model import LeadSource
from dialer.leads.service import LeadService
from dialer.store.database import Database
from dialer.store.users import UserStore

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "import_rows.json"
TABLES = {
    "leads": "id",
    "lead_phones": "e164",
    "lead_events": "id",
    "lead_imports": "id",
    "lead_import_rejects": "import_id, row, field, reason",
    "suppressions": "e164",
}


async def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.read() as r:
        return {
            table: [
                {k: row[k] for k in row.keys()} for row in await r.fetchall(f"SELECT * FROM {table} ORDER BY {order}")
            ]
            for table, order in TABLES.items()
        }


async def test_imports_write_the_golden_rows(db: Database, service: LeadService, clock: VirtualClock) -> None:
    users = UserStore(db)
    wang = await users.by_name("王丽", MAIN_DEALER_ID)
    assert wang is not None
    await users.add_alias("小王", wang, clock.now(), "经理")
    reports = []
    for name, kwargs in (
        ("import_rows_a.csv", {}),
        ("import_rows_b.csv", {}),
        ("import_rows_c.csv", {"source": LeadSource.WEB, "owner": "李强"}),
        ("import_rows_a.csv", {"force": True}),
        ("import_rows_b.csv", {}),
    ):
        clock.advance(3600)
        report = await service.importer.import_file(DATA / name, actor="经理", **kwargs)
        reports.append({**report.to_json(), "file": name})
    got = json.loads(json.dumps({"reports": reports, **await dump(db)}, ensure_ascii=False, default=str))
    if os.environ.get("DIALER_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got.keys() == golden.keys()
    for key in golden:
        assert got[key] == golden[key], key
