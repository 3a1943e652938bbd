"""The JSON edits an erasure makes, spelled by ``db.dialect``, give the same document on both
backends: keys removed (absent ones no error), existing paths replaced by text or JSON null, and a
missing path left missing (json_replace, not json_set)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialer.store.database import Database
from dialer.store.dialect import POSTGRESQL, SQLITE


async def _edit(db: Database, expression: str, document: dict[str, Any], *params: Any) -> Any:
    # The document stands in for a stored column: text in SQLite, jsonb on PostgreSQL.
    column = "CAST(? AS jsonb)" if db.dialect.is_postgresql else "?"
    async with db.read() as r:
        value = await r.fetchval(
            f"SELECT {expression} FROM (SELECT {column} AS data) AS t", (*params, json.dumps(document))
        )
    return json.loads(value)


async def test_json_without_removes_only_the_named_keys(db: Database) -> None:
    edited = await _edit(
        db,
        db.dialect.json_without("t.data", ["reason", "name", "reply"]),
        {"reason": "张三说", "to": "deal", "name": "张三"},
    )
    assert edited == {"to": "deal"}


async def test_json_replaced_sets_existing_paths_and_creates_none(db: Database) -> None:
    document = {"lead": {"name": "张三", "phone": "+8613800138000", "id": 7}, "note": "住在幸福路", "kind": "visit"}
    expression = db.dialect.json_replaced("t.data", {"lead.name": "?", "lead.phone": None, "note": None, "text": "?"})
    edited = await _edit(db, expression, document, "（已删除）", "（已删除）")
    assert edited == {"lead": {"name": "（已删除）", "phone": None, "id": 7}, "note": None, "kind": "visit"}


def test_only_plain_names_reach_the_sql() -> None:
    for dialect in (SQLITE, POSTGRESQL):
        with pytest.raises(ValueError, match="not a column or JSON key name"):
            dialect.json_without("data", ["reason'); DROP TABLE leads; --"])
        with pytest.raises(ValueError, match="not a column or JSON key name"):
            dialect.json_replaced("data", {"lead.name'": "?"})
