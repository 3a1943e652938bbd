"""Copying a dealer's SQLite store into the group's PostgreSQL database (``dialer store copy``,
docs/store.md "Moving a dealer in").

Why a copy row by row and not a dump: the group database already holds other dealers' rows, so every
copied row gets the target's id and every reference to it is translated, the declared foreign keys and
the ids the schema does not declare (an attempt's lead, an outbox row's attempt, the attempt, import or
SMS a lead event names in its JSON, the lead inside a DOSS payload). The map from the dealer's ids to
the group's is kept in the target (``dealer_copy_ids``, migration 0191), written in the same
transaction as the rows it maps, so a killed copy is simply run again, and a later run (the dealer
keeps working on SQLite until switch-over day) copies only the rows that are new or changed since.

The source is never written: :func:`private_copy` takes one consistent state of the file through
SQLite's backup API (the node may be running), and that private copy is migrated to the current
schema by :meth:`Database.open`. :data:`COPIED` says, table by table, how rows are matched and what
they reference; :data:`NOT_COPIED` why the rest stay behind; a test checks that every table of the
schema is in one of the two. Verification computes, per table, the count of the dealer's rows and a
SHA-256 over their content (ids translated, rows in a stable order) on both sides.

The audit log is a hash chain and is not rewritten: each source row is appended to the target's chain
with its original time, actor, action and target, as a row of the copied dealer (its people see it in
the group's log), its detail carrying where it came from (``copied_from_dealer``, ``copied_from_id``,
``copied_from_hash``, and for a row whose hash covered its dealer, ``copied_from_dealer_id``: the
dealer's id in its own store). The target's chain verifies as before, and the dealer's own chain can
still be proved from the copied rows: strip those keys, take the source id and the previous copied
row's source hash, and the row hashes to ``copied_from_hash`` (:func:`source_chain_rows`;
verification does exactly that).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dialer.clock import Clock
from dialer.domain.access.dealers import code_problem
from dialer.domain.audit.model import GENESIS, ChainCheck, Encoding, encode_detail, row_hash
from dialer.phone import mask
from dialer.store.audit import CHAIN_COLUMNS, chain_row
from dialer.store.backup import copy_pages, read_only
from dialer.store.database import Database, Reader, Row, Tx
from dialer.store.dealers import DealerStore
from dialer.store.errors import StoreError

# Rows written per transaction: one batch and its map rows commit together.
BATCH = 2000
# Clashing values named in an error (the rest are counted).
_SHOWN = 5
MAP_TABLE = "dealer_copy_ids"


class CopyError(StoreError):
    """The copy cannot be done as asked: the message names what and where."""


@dataclass(frozen=True, slots=True)
class Ref:
    """A column holding the id of a row of ``table``; with ``path``, the id sits inside that JSON column.

    ``watermark``: an id up to which rows of ``table`` were seen (campaigns.events_seen); it becomes the
    target's id of the last copied row at or below it (0: none yet). Ids map in order, so that says the
    same of the dealer's rows; the copy's last step, once those rows are copied, settles it exactly."""

    column: str
    table: str
    path: tuple[str, ...] = ()
    watermark: bool = False


@dataclass(frozen=True, slots=True)
class Unique:
    """A unique business key that may already be held by another dealer's row in the group."""

    column: str
    where: str = ""  # the partial index's condition, the same SQL on both sides
    phone: bool = False  # a phone number: masked when named in an error
    # Another dealer's row with the value already says what this row says (the number is suppressed in
    # the whole group): the dealer's row is left out and counted as covered instead of refusing the copy.
    covered: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """How one table is copied.

    ``key`` ``("id",)``: every row gets a new id through the map. Otherwise the table has no id of its own
    and belongs to a copied row through ``parent`` (no parent: to the dealer, through its ``dealer_id``);
    its rows are matched on ``key`` (its primary key, ids translated), or, with an empty key, on their
    whole content (the dealer's rows mirror the source's)."""

    name: str
    refs: tuple[Ref, ...] = ()
    key: tuple[str, ...] = ("id",)
    parent: Ref | None = None
    unique: tuple[Unique, ...] = ()

    @property
    def has_ids(self) -> bool:
        return self.key == ("id",)


def _lead(column: str = "lead_id") -> Ref:
    return Ref(column, "leads")


# In dependency order: a table comes after every table it references (campaigns.events_seen, the one
# reference back to a later table, is a watermark settled at the end).
COPIED: tuple[Plan, ...] = (
    # Logins, identities, endpoints and aliases are unique per dealer (migration 0195): every showroom has
    # its admin and its phones 8001-8008, so the dealer's own names are kept as they are.
    Plan("users"),
    Plan("owner_aliases", key=("dealer_id", "alias"), parent=Ref("user_id", "users")),
    Plan("user_totp", key=("user_id",), parent=Ref("user_id", "users")),
    Plan("lead_imports"),
    Plan("lead_import_rejects", key=(), parent=Ref("import_id", "lead_imports")),
    Plan("leads"),
    Plan("lead_phones", key=("dealer_id", "e164"), parent=_lead()),  # each dealer may have a number
    # A running campaign stays running: only a node of its dealer runs it (its [dealer] code), so it
    # goes on when the dealer's node joins the group, and no other dealer's node dials it.
    Plan("campaigns", refs=(Ref("events_seen", "lead_events", watermark=True),)),
    Plan("campaign_events", refs=(Ref("campaign_id", "campaigns"),)),
    Plan(
        "attempts",
        refs=(_lead(), Ref("campaign_id", "campaigns")),
        unique=(Unique("call_id"),),
    ),
    Plan("sms_waves"),
    Plan("sms_messages", refs=(_lead(), Ref("wave_id", "sms_waves")), unique=(Unique("dedupe_key"),)),
    Plan("sms_parts", key=("message_id", "seq"), parent=Ref("message_id", "sms_messages")),
    Plan("sms_inbound", refs=(_lead(), Ref("reply_to", "sms_messages"))),
    Plan("sms_call_tasks", refs=(_lead(), Ref("wave_id", "sms_waves"))),
    Plan(
        "lead_events",
        refs=(
            _lead(),
            Ref("data", "attempts", ("attempt_id",)),
            Ref("data", "lead_imports", ("import_id",)),
            Ref("data", "sms_messages", ("message_id",)),
        ),
    ),
    Plan(
        "doss_outbox",
        refs=(
            _lead(),
            Ref("attempt_id", "attempts"),
            Ref("event_id", "lead_events"),
            Ref("payload", "leads", ("lead", "id")),
        ),
        unique=(Unique("idempotency_key"),),
    ),
    Plan(
        "campaign_leads",
        key=("campaign_id", "lead_id"),
        parent=Ref("campaign_id", "campaigns"),
        refs=(_lead(), Ref("last_attempt_id", "attempts")),
    ),
    Plan(
        "recordings",
        refs=(_lead(), Ref("campaign_id", "campaigns")),
        unique=(Unique("call_id"), Unique("path")),
    ),
    Plan("recording_audit", refs=(Ref("recording_id", "recordings"),)),
    Plan("qa_scores", refs=(Ref("recording_id", "recordings"),)),
    Plan("qa_score_items", key=("score_id", "item_id"), parent=Ref("score_id", "qa_scores")),
    Plan("erasures"),
    Plan(
        "recording_erasures",
        key=("recording_id",),
        parent=Ref("recording_id", "recordings"),
        refs=(Ref("erasure_id", "erasures"),),
    ),
    Plan("suppressions", refs=(_lead(),), unique=(Unique("e164", "lifted_at IS NULL", phone=True, covered=True),)),
    Plan("listen_ins", unique=(Unique("channel_id"),)),
    Plan("promotions"),
    Plan("call_handovers"),
    Plan("kpi_targets", key=("dealer_id", "month", "kpi"), parent=None),
    # The SIP accounts of the dealer's PBX (its node renders its own dealer's phones): the phones keep
    # registering with the passwords they have.
    Plan("phone_accounts", key=("dealer_id", "endpoint"), parent=None),
    Plan("audit_log"),  # appended to the target's chain (module docstring)
)

NOT_COPIED: Mapping[str, str] = {
    "schema_migrations": "migration bookkeeping: the group database has its own",
    MAP_TABLE: "the copy's own bookkeeping, kept in the group database only",
    "pbx_leases": "a running node's lease on its PBX: the dealer's node takes one when it joins the group",
    "web_sessions": "console logins: users log in again on the group's console",
    "agent_presence": "an agent's live sign-in state on the dealer's node: agents sign in again",
    "dealers": "the group's list of dealers: the copy makes (or finds) the --dealer's row and sets every "
    "dealer_id of the copied rows to it",
}


def check_dealer_code(code: str) -> str:
    """The dealer code as given, or :class:`CopyError` naming it (the rule of ``[dealer] code``)."""
    problem = code_problem(code)
    if problem is not None:
        raise CopyError(f"--dealer {code!r}: {problem}")
    return code


# -- the source: one consistent private copy, never written ----------------------------------------


async def private_copy(source: Path, into: Path) -> None:
    """Copy the dealer's store file ``source`` into the new file ``into`` through SQLite's backup API,
    opening ``source`` read-only; :class:`CopyError` when it is no dialer store."""
    await asyncio.to_thread(_private_copy, source, into)


def _private_copy(source: Path, into: Path) -> None:
    if not source.is_file():
        raise CopyError(f"--from {source}: no such file")
    try:
        src = read_only(source)
        try:
            found = src.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()[0]
            if not found:
                raise CopyError(f"--from {source}: a SQLite database, but not a dialer store (no schema_migrations)")
            copy_pages(src, into)
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise CopyError(f"--from {source}: cannot read it as a dialer store: {exc}") from exc


# -- translating rows ---------------------------------------------------------------------------------


Ids = dict[str, dict[int, int]]  # table -> source id -> target id
Progress = Callable[[str, int, int], None]  # (table, rows done, rows in all)


@dataclass(frozen=True, slots=True)
class TableResult:
    """One table's copy: what was written now, and the verification of the dealer's rows."""

    table: str
    source_rows: int
    inserted: int
    updated: int
    deleted: int
    covered: int = 0  # rows left out because another dealer's row already says the same (Unique.covered)
    target_rows: int = 0
    source_sum: str = ""
    target_sum: str = ""

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass(frozen=True, slots=True)
class Schema:
    """What the copy needs to know of the two stores' tables."""

    columns: Mapping[str, tuple[str, ...]]  # the source's columns, per table
    json_columns: frozenset[tuple[str, str]]  # (table, column) holding JSON
    dealer_id: int  # the dealer's id in the target's dealers table (0 until the checks have passed)


def _canonical_json(value: Any) -> Any:
    if value is None:
        return None
    return json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Translator:
    """Turns a source row into the target's values: ids through the map, JSON canonical, dealer set."""

    def __init__(self, plan: Plan, schema: Schema, ids: Ids) -> None:
        self.plan = plan
        self.columns = schema.columns[plan.name]
        self._json = {c for c in self.columns if (plan.name, c) in schema.json_columns}
        self._dealer_id = schema.dealer_id
        self._ids = ids
        self._ordered = {r.table: sorted(ids.get(r.table, {})) for r in plan.refs if r.watermark}
        refs = [*plan.refs, *([plan.parent] if plan.parent else [])]
        self._plain = {r.column: r for r in refs if not r.path}
        self._in_json: dict[str, list[Ref]] = {}
        for ref in refs:
            if ref.path:
                self._in_json.setdefault(ref.column, []).append(ref)

    def _id(self, ref: Ref, value: Any, row_id: Any) -> Any:
        if value is None:
            return None
        mapped = self._ids.get(ref.table, {}).get(int(value))
        if mapped is not None:
            return mapped
        if ref.watermark:
            ordered = self._ordered[ref.table]
            below = bisect_right(ordered, int(value))
            return self._ids[ref.table][ordered[below - 1]] if below else 0
        where = ".".join((ref.column, *ref.path))
        raise CopyError(
            f"{self.plan.name} row {row_id}: {where} = {value} names a row of {ref.table} that is not in the "
            "dealer's store (a dangling reference); nothing of this table was written"
        )

    def _json_value(self, column: str, text: Any, row_id: Any) -> Any:
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise CopyError(
                f"{self.plan.name} row {row_id}: {column} is not JSON; nothing of this table was written"
            ) from None
        for ref in self._in_json.get(column, ()):
            holder = data
            for key in ref.path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and holder.get(ref.path[-1]) is not None:
                holder[ref.path[-1]] = self._id(ref, holder[ref.path[-1]], row_id)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def row(self, row: Row) -> tuple[Any, ...]:
        """The source row as the target's values, in :attr:`columns` order (``id`` still the source's)."""
        row_id = row["id"] if "id" in self.columns else None
        out: list[Any] = []
        for column in self.columns:
            value = row[column]
            if column == "dealer_id":
                value = self._dealer_id
            elif column in self._plain:
                value = self._id(self._plain[column], value, row_id)
            elif column in self._json:
                value = self._json_value(column, value, row_id)
            out.append(value)
        return tuple(out)

    def target(self, row: Row) -> tuple[Any, ...]:
        """A target row in the same form (JSON canonical), for comparing."""
        return tuple(_canonical_json(row[c]) if c in self._json else row[c] for c in self.columns)


def _digest(rows: Iterable[Sequence[Any]]) -> str:
    lines = sorted(json.dumps(list(r), separators=(",", ":"), ensure_ascii=False, default=str) for r in rows)
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


# -- the copy ------------------------------------------------------------------------------------------


class DealerCopy:
    """Copies one dealer's migrated private store ``source`` into the group database ``target``."""

    def __init__(
        self, source: Database, target: Database, dealer: str, clock: Clock, progress: Progress | None = None
    ) -> None:
        if target.dialect.name != "postgresql":
            raise CopyError(f"--to {target.target}: the group database must be PostgreSQL")
        self._source = source
        self._target = target
        self._dealer = check_dealer_code(dealer)
        self._clock = clock
        self._progress = progress or (lambda table, done, total: None)
        self._ids: Ids = {}
        self._inserted: dict[str, set[int]] = {}  # per table, the source ids this run inserted
        self._schema: Schema | None = None

    async def _load_schema(self) -> Schema:
        columns: dict[str, tuple[str, ...]] = {}
        async with self._source.read() as r:
            for plan in COPIED:
                rows = await r.fetchall(f"SELECT name FROM pragma_table_info('{plan.name}') ORDER BY cid")
                columns[plan.name] = tuple(row["name"] for row in rows)
        async with self._target.read() as r:
            found = await r.fetchall(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
        target_columns: dict[str, set[str]] = {}
        for row in found:
            target_columns.setdefault(row["table_name"], set()).add(row["column_name"])
        for plan in COPIED:
            missing = set(columns[plan.name]) - target_columns.get(plan.name, set())
            if not columns[plan.name] or missing:
                raise CopyError(
                    f"table {plan.name}: the dealer's store and the group database differ "
                    f"({', '.join(sorted(missing)) or 'no such table in the source'}); "
                    "are both on this dialer's version?"
                )
        json_columns = frozenset(
            (row["table_name"], row["column_name"]) for row in found if row["data_type"] == "jsonb"
        )
        return Schema(columns, json_columns, 0)

    async def _source_dealer(self) -> str:
        """The name of the one dealer the dealer's store holds; :class:`CopyError` when it holds several."""
        async with self._source.read() as r:
            rows = await r.fetchall("SELECT code, name FROM dealers ORDER BY id")
        if len(rows) != 1:
            codes = ", ".join(row["code"] for row in rows)
            raise CopyError(f"--from: the store holds {len(rows)} dealers ({codes}); a dealer's own store holds one")
        return str(rows[0]["name"])

    async def _dealer_row(self, name: str) -> int:
        return (await DealerStore(self._target).ensure(self._dealer, name, self._clock.now())).id

    async def _load_ids(self) -> None:
        self._ids = {}
        async with self._target.read() as r:
            rows = await r.fetchall(
                f"SELECT tbl, source_id, target_id FROM {MAP_TABLE} WHERE dealer = ?", (self._dealer,)
            )
        for row in rows:
            self._ids.setdefault(row["tbl"], {})[int(row["source_id"])] = int(row["target_id"])

    async def run(self) -> list[TableResult]:
        """Copy every table of :data:`COPIED`, then settle the watermarks.

        Refuses before writing anything when the dealer's audit chain is broken or a new row's business
        key is another dealer's in the group."""
        self._schema = await self._load_schema()
        await self._load_ids()
        name = await self._source_dealer()
        await self._check_source_chain()
        await self._check_clashes(COPIED)
        self._schema = replace(self._schema, dealer_id=await self._dealer_row(name))
        results: dict[str, TableResult] = {}
        for plan in COPIED:
            results[plan.name] = await self._copy(plan)
        for plan in COPIED:
            if any(r.watermark for r in plan.refs):
                # Rows inserted by this run and settled now are not "updated" rows of the dealer's.
                again = await self._copy_with_ids(plan, settling=True)
                first = results[plan.name]
                results[plan.name] = replace(first, updated=first.updated + again.updated)
        return [results[p.name] for p in COPIED]

    async def _source_rows(self, plan: Plan) -> list[Row]:
        order = "id" if plan.has_ids else self._schema_columns(plan)[0]
        async with self._source.read() as r:
            return await r.fetchall(f"SELECT * FROM {plan.name} ORDER BY {order}")

    def _schema_columns(self, plan: Plan) -> tuple[str, ...]:
        assert self._schema is not None
        return self._schema.columns[plan.name]

    def _translator(self, plan: Plan) -> _Translator:
        assert self._schema is not None
        return _Translator(plan, self._schema, self._ids)

    async def _mine(self, r: Reader | Tx, plan: Plan) -> list[Row]:
        """The dealer's rows of ``plan``'s table in the target (with ``_src``: the source id, for id tables)."""
        if plan.has_ids:
            return list(
                await r.fetchall(
                    f"SELECT m.source_id AS _src, t.* FROM {plan.name} t JOIN {MAP_TABLE} m ON m.target_id = t.id"
                    " AND m.tbl = ? AND m.dealer = ?",
                    (plan.name, self._dealer),
                )
            )
        if plan.parent is None:
            assert self._schema is not None
            return list(await r.fetchall(f"SELECT * FROM {plan.name} WHERE dealer_id = ?", (self._schema.dealer_id,)))
        return list(
            await r.fetchall(
                f"SELECT t.* FROM {plan.name} t WHERE t.{plan.parent.column} IN"
                f" (SELECT target_id FROM {MAP_TABLE} WHERE dealer = ? AND tbl = ?)",
                (self._dealer, plan.parent.table),
            )
        )

    # - checks before anything is written

    async def _check_source_chain(self) -> None:
        check = ChainCheck()
        async with self._source.read() as r:
            rows = await r.fetchall(f"SELECT {CHAIN_COLUMNS} FROM audit_log ORDER BY id")
        check.feed(chain_row(row) for row in rows)
        if check.broken is not None:
            raise CopyError(
                f"nothing was copied: the dealer's audit log is broken at id {check.broken.id} "
                f"({check.broken.kind.value}); run dialer audit verify on the dealer's node"
            )

    def _new_values(self, plan: Plan, rows: Sequence[Row], unique: Unique) -> dict[Any, list[Row]]:
        """The values of ``unique`` in the rows not copied yet, with their rows."""
        known = self._ids.get(plan.name, {}) if plan.has_ids else {}
        found: dict[Any, list[Row]] = {}
        for row in rows:
            value = row[unique.column]
            if value is None or (plan.has_ids and int(row["id"]) in known):
                continue
            if not unique.where or _holds(unique.where, row):
                found.setdefault(value, []).append(row)
        return found

    async def _covered(self, plan: Plan, rows: Sequence[Row]) -> set[int]:
        """The source ids of the rows :attr:`Unique.covered` leaves out."""
        ids: set[int] = set()
        for unique in plan.unique:
            if not unique.covered:
                continue
            values = self._new_values(plan, rows, unique)
            for value in await self._held_by_others(plan, unique, sorted(values)) if values else ():
                ids.update(int(row["id"]) for row in values[value])
        return ids

    async def _check_clashes(self, plans: Sequence[Plan]) -> None:
        problems: list[str] = []
        for plan in plans:
            if not any(not u.covered for u in plan.unique):
                continue
            rows = await self._source_rows(plan)
            for unique in plan.unique:
                values = self._new_values(plan, rows, unique)
                if unique.covered or not values:
                    continue
                clashing = await self._held_by_others(plan, unique, sorted(values))
                if clashing:
                    shown = [mask(v) if unique.phone else v for v in clashing[:_SHOWN]]
                    more = f" and {len(clashing) - _SHOWN} more" if len(clashing) > _SHOWN else ""
                    problems.append(f"{plan.name}.{unique.column}: {', '.join(shown)}{more}")
        if problems:
            raise CopyError(
                "nothing was copied: these values of the dealer's store are already another dealer's in the "
                "group database (each must be unique there): " + "; ".join(problems)
            )

    async def _held_by_others(self, plan: Plan, unique: Unique, values: list[Any]) -> list[Any]:
        mine_column, mine_table = ("id", plan.name) if plan.has_ids else (plan.parent.column, plan.parent.table)  # type: ignore[union-attr]
        where = f" AND ({unique.where})" if unique.where else ""
        async with self._target.read() as r:
            rows = await r.fetchall(
                f"SELECT DISTINCT {unique.column} AS v FROM {plan.name} WHERE {unique.column} = ANY(?){where}"
                f" AND {mine_column} NOT IN (SELECT target_id FROM {MAP_TABLE} WHERE dealer = ? AND tbl = ?)"
                f" ORDER BY {unique.column}",
                (values, self._dealer, mine_table),
            )
        return [row["v"] for row in rows]

    # - one table

    async def _copy(self, plan: Plan) -> TableResult:
        if plan.name == "audit_log":
            return await self._copy_audit(plan)
        if plan.has_ids:
            return await self._copy_with_ids(plan)
        return await self._copy_children(plan)

    async def _copy_with_ids(self, plan: Plan, *, settling: bool = False) -> TableResult:
        source = await self._source_rows(plan)
        translate = self._translator(plan)
        columns = translate.columns
        async with self._target.read() as r:
            mine = {int(row["_src"]): translate.target(row) for row in await self._mine(r, plan)}
        known = self._ids.setdefault(plan.name, {})
        id_at = columns.index("id")
        inserts: list[tuple[int, tuple[Any, ...]]] = []
        updates: list[tuple[Any, ...]] = []
        fresh = self._inserted.setdefault(plan.name, set())
        covered = await self._covered(plan, source)
        counted = 0
        for row in source:
            values = translate.row(row)
            source_id = int(row["id"])
            if source_id not in known:
                if source_id not in covered:
                    inserts.append((source_id, values))
                continue
            values = _with_id(values, id_at, known[source_id])
            if mine.get(source_id) != values:
                updates.append(values)
                counted += not (settling and source_id in fresh)
        total, done = len(source), len(source) - len(inserts) - len(updates)
        self._progress(plan.name, done, total)
        others = [c for c in columns if c != "id"]
        update_sql = f"UPDATE {plan.name} SET {', '.join(f'{c} = ?' for c in others)} WHERE id = ?"
        for start in range(0, len(updates), BATCH):
            batch = updates[start : start + BATCH]
            async with self._target.write() as tx:
                await tx.executemany(
                    update_sql, [[v for c, v in zip(columns, u, strict=True) if c != "id"] + [u[id_at]] for u in batch]
                )
            done += len(batch)
            self._progress(plan.name, done, total)
        insert_sql = f"INSERT INTO {plan.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for start in range(0, len(inserts), BATCH):
            batch = inserts[start : start + BATCH]
            async with self._target.write() as tx:
                new_ids = await _new_ids(tx, plan.name, len(batch))
                rows = []
                pairs = []
                for (source_id, values), target_id in zip(batch, new_ids, strict=True):
                    rows.append(_with_id(values, id_at, target_id))
                    pairs.append((self._dealer, plan.name, source_id, target_id))
                await tx.executemany(insert_sql, rows)
                await tx.executemany(
                    f"INSERT INTO {MAP_TABLE} (dealer, tbl, source_id, target_id) VALUES (?, ?, ?, ?)", pairs
                )
            known.update((p[2], p[3]) for p in pairs)
            fresh.update(p[2] for p in pairs)
            done += len(batch)
            self._progress(plan.name, done, total)
        return TableResult(plan.name, total, len(inserts), counted, 0, len(covered))

    async def _copy_children(self, plan: Plan) -> TableResult:
        source = await self._source_rows(plan)
        translate = self._translator(plan)
        columns = translate.columns
        wanted = [translate.row(row) for row in source]
        async with self._target.read() as r:
            mine = [translate.target(row) for row in await self._mine(r, plan)]
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        deletes: list[tuple[Any, ...]] = []
        if plan.key:
            at = [columns.index(c) for c in plan.key]
            have = {tuple(v[i] for i in at): v for v in mine}
            keep = set()
            for values in wanted:
                key = tuple(values[i] for i in at)
                keep.add(key)
                if key not in have:
                    inserts.append(values)
                elif have[key] != values:
                    updates.append(values)
            deletes = [key for key in have if key not in keep]
        else:
            missing = Counter(wanted) - Counter(mine)
            inserts = [values for values, n in missing.items() for _ in range(n)]
        total = len(source)
        done = total - len(inserts) - len(updates)
        self._progress(plan.name, done, total)
        key_sql = " AND ".join(f"{c} = ?" for c in plan.key)
        others = [c for c in columns if c not in plan.key]
        work: list[tuple[str, list[Sequence[Any]]]] = [
            (f"DELETE FROM {plan.name} WHERE {key_sql}", list(deletes)),
            (
                f"UPDATE {plan.name} SET {', '.join(f'{c} = ?' for c in others)} WHERE {key_sql}",
                [
                    [v for c, v in zip(columns, u, strict=True) if c not in plan.key]
                    + [u[columns.index(c)] for c in plan.key]
                    for u in updates
                ],
            ),
            (f"INSERT INTO {plan.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", list(inserts)),
        ]
        for sql, rows in work:
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                async with self._target.write() as tx:
                    await tx.executemany(sql, batch)
                if not sql.startswith("DELETE"):
                    done += len(batch)
                    self._progress(plan.name, done, total)
        return TableResult(plan.name, total, len(inserts), len(updates), len(deletes))

    async def _copy_audit(self, plan: Plan) -> TableResult:
        source = await self._source_rows(plan)
        known = self._ids.setdefault(plan.name, {})
        new = [row for row in source if int(row["id"]) not in known]
        total = len(source)
        done = total - len(new)
        self._progress(plan.name, done, total)
        for start in range(0, len(new), BATCH):
            batch = new[start : start + BATCH]
            async with self._target.write() as tx:
                last = await tx.fetchone("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                row_id, prev = (0, GENESIS) if last is None else (int(last["id"]), last["hash"])
                rows, pairs = [], []
                assert self._schema is not None
                dealer_id = self._schema.dealer_id
                for row in batch:
                    row_id += 1
                    marks = {
                        "copied_from_dealer": self._dealer,
                        "copied_from_id": int(row["id"]),
                        "copied_from_hash": row["hash"],
                    }
                    if row["encoding"] == Encoding.DEALER:  # its hash covered its dealer id in its own store
                        marks["copied_from_dealer_id"] = row["dealer_id"]
                    detail = encode_detail({**json.loads(row["detail"]), **marks})
                    digest = row_hash(id=row_id, at=row["at"], actor=row["actor"], action=row["action"],
                                      target=row["target"], detail=detail, prev_hash=prev, dealer_id=dealer_id,
                                      encoding=Encoding.DEALER)  # fmt: skip
                    rows.append((row_id, row["at"], row["actor"], row["action"], row["target"], detail, prev, digest,
                                 dealer_id, Encoding.DEALER.value))  # fmt: skip
                    pairs.append((self._dealer, plan.name, int(row["id"]), row_id))
                    prev = digest
                await tx.executemany(
                    f"INSERT INTO audit_log ({CHAIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                await tx.executemany(
                    f"INSERT INTO {MAP_TABLE} (dealer, tbl, source_id, target_id) VALUES (?, ?, ?, ?)", pairs
                )
            known.update((p[2], p[3]) for p in pairs)
            done += len(batch)
            self._progress(plan.name, done, total)
        return TableResult(plan.name, total, len(new), 0, 0)

    # - verification

    async def verify(self, results: Sequence[TableResult]) -> list[TableResult]:
        """Each table's count and checksum of the dealer's rows, computed on both sides."""
        await self._load_ids()
        verified = []
        for result in results:
            plan = next(p for p in COPIED if p.name == result.table)
            source, target = await self._sides(plan)
            verified.append(
                replace(
                    result,
                    source_rows=len(source),
                    target_rows=len(target),
                    source_sum=_digest(source),
                    target_sum=_digest(target),
                )
            )
        return verified

    async def _sides(self, plan: Plan) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Both sides of ``plan``'s table: the dealer's rows (less those left out as covered) and their copies."""
        rows = await self._source_rows(plan)
        covered = await self._covered(plan, rows)
        rows = [row for row in rows if not covered or int(row["id"]) not in covered]
        async with self._target.read() as r:
            mine = await self._mine(r, plan)
        if plan.name == "audit_log":
            source = [
                tuple(row[c] for c in ("id", "at", "actor", "action", "target", "detail", "prev_hash", "hash"))
                for row in rows
            ]
            ordered = sorted(mine, key=lambda row: int(row["id"]))
            return source, source_chain_rows(ordered)
        translate = self._translator(plan)
        try:
            source = [translate.row(row) for row in rows]
        except CopyError:
            source = []  # a row the copy could not translate: the count differs, and the table is named
        if plan.has_ids:
            at = translate.columns.index("id")
            known = self._ids.get(plan.name, {})
            source = [_with_id(v, at, known.get(int(v[at]))) for v in source]
        return source, [translate.target(row) for row in mine]


def source_chain_rows(copied: Iterable[Row]) -> list[tuple[Any, ...]]:
    """The dealer's own audit rows, as its store held them, rebuilt from their copies in the group's chain
    (in the group's id order): id, at, actor, action, target, detail, prev_hash, hash."""
    out: list[tuple[Any, ...]] = []
    prev = GENESIS
    for row in copied:
        try:
            loaded = json.loads(row["detail"])
        except ValueError:
            loaded = None
        detail = loaded if isinstance(loaded, dict) else {"unreadable": row["detail"]}
        # A copied row stripped of its marks (edited in the database) proves nothing: it shows as a difference.
        source_id, source_hash = detail.pop("copied_from_id", None), detail.pop("copied_from_hash", None)
        detail.pop("copied_from_dealer", None)
        # A row whose hash covered its dealer says so by naming that dealer's id in its own store.
        encoding = Encoding.DEALER if "copied_from_dealer_id" in detail else Encoding.PLAIN
        source_dealer = detail.pop("copied_from_dealer_id", None)
        original = encode_detail(detail)
        proved = row_hash(id=source_id, at=row["at"], actor=row["actor"], action=row["action"],
                          target=row["target"], detail=original, prev_hash=prev, dealer_id=source_dealer,
                          encoding=encoding)  # fmt: skip
        # A copy that does not hash to the source's hash is reported as it is, so the checksum differs.
        out.append((source_id, row["at"], row["actor"], row["action"], row["target"], original, prev,
                    source_hash if proved == source_hash else proved))  # fmt: skip
        prev = source_hash
    return out


async def _new_ids(tx: Tx, table: str, count: int) -> list[int]:
    """``count`` ids for new rows of ``table``: from its identity, or after its largest id where the
    product numbers rows itself (leads, lead_imports: inside the write lock, as their repository does)."""
    sequence = await tx.fetchval(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    if sequence is None:
        last = int(await tx.fetchval(f"SELECT COALESCE(MAX(id), 0) FROM {table}"))
        return list(range(last + 1, last + 1 + count))
    rows = await tx.fetchall("SELECT nextval(?) AS id FROM generate_series(1, ?)", (sequence, count))
    return [int(row["id"]) for row in rows]


def _with_id(values: tuple[Any, ...], at: int, new: Any) -> tuple[Any, ...]:
    return (*values[:at], new, *values[at + 1 :])


def _holds(where: str, row: Row) -> bool:
    """The few partial-index conditions of :data:`COPIED`, evaluated on a source row."""
    column, _, test = where.partition(" ")
    return (row[column] is None) == (test == "IS NULL")
