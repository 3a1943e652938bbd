"""Leads in the store: the only code that reads or writes the lead tables (migration 0010).

Every change to a lead goes through :class:`LeadStore`, which appends the
matching ``lead_events`` row and recomputes ``due_at``/``due_kind`` with the pure
:func:`dialer.domain.leads.deadlines.compute_due` in the same transaction. Methods open
``db.write()``; called inside a caller's own ``db.write()`` they join it (a
savepoint), so a call disposition, its lead change and its outbox row commit
together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.outcome import Outcome
from dialer.domain.leads.deadlines import DueKind, DueRules, compute_due
from dialer.domain.leads.errors import LeadNotFound
from dialer.domain.leads.hygiene import (
    DefeatedLead,
    HygieneFacts,
    ImportDuplicates,
    MergeCandidate,
    RejectedNumber,
    WrongNumber,
)
from dialer.domain.leads.merge import AMBIGUOUS, ImportPlan, NewEvent, plan_import
from dialer.domain.leads.model import (
    IntentLevel,
    Lead,
    LeadEventKind,
    LeadPhone,
    LeadSource,
    LeadState,
    PhoneKind,
    check_transition,
)
from dialer.domain.leads.records import (
    CancelledVisit,
    ImportRun,
    ImportSource,
    LeadEvent,
    LeadPage,
    LeadQuery,
    OwnershipCount,
    PreviousImport,
    Transfer,
    VisitBoard,
)
from dialer.domain.leads.template import LeadDraft, Rejection
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.logs import get_logger
from dialer.store.database import Database, Reader, Row, Tx
from dialer.store.dealers import dealer_sql
from dialer.store.suppressions import SuppressionStore
from dialer.timestamps import from_db, from_db_or_none, to_db

log = get_logger(__name__)

# Ids per "IN (...)" query: far below SQLite's parameter limit, big enough that
# matching 100 000 numbers takes a few hundred queries, not 100 000.
_IN_CHUNK = 500

_TIME_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "owned_at",
        "issued_at",
        "handed_over_at",
        "first_contact_at",
        "last_contact_at",
        "callback_at",
        "visit_at",
        "visit_reminded_at",
        "visit_confirmed_at",
        "due_at",
    }
)
# Lead fields that are no column: the numbers live in lead_phones, opt_out_at is read from the
# suppression list (all of the lead's numbers on it).
_DERIVED = frozenset({"phones", "opt_out_at"})
# Lead fields in table column order.
_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Lead) if f.name not in _DERIVED)
_UPDATE_LEAD = f"UPDATE leads SET {', '.join(f'{c} = ?' for c in _COLUMNS[1:])} WHERE id = ?"
_PHONE_COLUMNS = ("e164", "lead_id", "kind", "dealer_id")
_EVENT_COLUMNS = ("lead_id", "kind", "at", "actor", "data")
_INSERT_EVENT = f"INSERT INTO lead_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
# Event data as stored; one encoder (json.dumps builds one per call when given options).
_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _enum_texts(enum: type[Enum]) -> Callable[[Any], Any]:
    """An enum column's stored text per member; None (an empty cell) is no member and stays None."""
    return {member: member.value for member in enum}.get


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# How each column that is neither a time (rendered apart, once per instant) nor stored as the value
# itself becomes a cell, decided once per column instead of by type tests on every cell.
_CONVERTERS: Mapping[str, Callable[[Any], Any]] = {
    "source": _enum_texts(LeadSource),
    "state": _enum_texts(LeadState),
    "intent": _enum_texts(IntentLevel),
    "purchase_date": _iso_date,
    "consent": {True: 1, False: 0}.get,
}
_COLUMN_VALUES = attrgetter(*_COLUMNS)
_TIME_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if name in _TIME_FIELDS)
_CONVERTED = tuple((i, _CONVERTERS[name]) for i, name in enumerate(_COLUMNS) if name in _CONVERTERS)
# Columns stored as the value itself (text, integers); a new column of another type needs a converter.
_PLAIN_TYPES = frozenset({"int", "str", "int | None", "str | None"})
_UNCONVERTED = {
    f.name
    for f in dataclasses.fields(Lead)
    if f.name not in _DERIVED and f.name not in _TIME_FIELDS and f.type not in _PLAIN_TYPES
} - _CONVERTERS.keys()
if _UNCONVERTED:
    raise TypeError(f"lead columns without a converter: {sorted(_UNCONVERTED)}")


def _lead_rows(leads: Iterable[Lead]) -> list[tuple[Any, ...]]:
    """Leads as table rows. Each instant is rendered once per batch: an import's leads share
    their "now" (created, updated, owned) and often their HQ issue time."""
    times: dict[datetime, str] = {}
    rows = []
    for lead in leads:
        row = list(_COLUMN_VALUES(lead))
        for i in _TIME_INDEXES:
            if (value := row[i]) is not None:
                text = times.get(value)
                if text is None:
                    text = times[value] = to_db(value)
                row[i] = text
        for i, convert in _CONVERTED:
            row[i] = convert(row[i])
        rows.append(tuple(row))
    return rows


# Bound values per multi-row INSERT: SQLite's lowest limit (999 before 3.32); PostgreSQL allows 32 767.
_VALUES_PER_INSERT = 999


async def _insert_rows(tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` into ``table`` many rows to a statement (``INSERT ... VALUES (...), (...), ...``).

    The lead tables' CHECK constraints test values against lists (``source IN ('hq', 'web', ...)``),
    and SQLite builds each such list again every time a statement runs: one statement per row, as
    executemany runs them, made the checks most of the cost of inserting a lead. Once per 30-250
    rows, they cost next to nothing (docs/bench.md, "Lead import, third round").
    """
    per = max(1, _VALUES_PER_INSERT // len(columns))
    one = f"({', '.join('?' * len(columns))})"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    full = head + ", ".join([one] * per)
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        sql = full if len(chunk) == per else head + ", ".join([one] * len(chunk))
        await tx.execute(sql, list(chain.from_iterable(chunk)))


async def _insert_leads(tx: Tx, leads: Sequence[Lead]) -> None:
    """Insert new leads naming only the columns some lead of the batch fills.

    A new lead leaves most of its 27 columns empty (contacts, visits, often the car, the owner, the
    note), and every bound value costs the driver alike, NULL or not. A column left out takes its
    default, which is NULL for every column that can be None (``dealer_id``, the one column with
    another default, never is).
    """
    rows = _lead_rows(leads)
    if not rows:
        return
    filled = [i for i, values in enumerate(zip(*rows, strict=True)) if values.count(None) < len(values)]
    pick = itemgetter(*filled)  # a tuple per row: id and name are never empty, so at least two columns
    await _insert_rows(tx, "leads", [_COLUMNS[i] for i in filled], [pick(row) for row in rows])


def _lead_row(lead: Lead) -> tuple[Any, ...]:
    return _lead_rows((lead,))[0]


def _lead(row: Row, phones: Sequence[LeadPhone], opt_out_at: datetime | None) -> Lead:
    values: dict[str, Any] = {name: row[name] for name in _COLUMNS}
    for name in _TIME_FIELDS:
        values[name] = from_db_or_none(values[name])
    values["source"] = LeadSource(values["source"])
    values["state"] = LeadState(values["state"])
    values["intent"] = None if values["intent"] is None else IntentLevel(values["intent"])
    values["purchase_date"] = None if values["purchase_date"] is None else date.fromisoformat(values["purchase_date"])
    values["consent"] = None if values["consent"] is None else bool(values["consent"])
    return Lead(phones=tuple(phones), opt_out_at=opt_out_at, **values)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class LeadStore:
    """Reads and changes leads; every change lands in ``lead_events`` and refreshes the due time."""

    def __init__(self, db: Database, rules: DueRules, clock: Clock, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        self._db = db
        self._rules = rules
        self._clock = clock
        self.dealer_id = dealer_id  # this node's dealer: whose leads its imports make and its callers are

    # -- reading ---------------------------------------------------------------------------

    async def get(self, lead_id: int, dealers: DealerScope = EVERY_DEALER) -> Lead:
        """The lead with ``lead_id``; :class:`LeadNotFound` if there is none, or none ``dealers`` sees."""
        async with self._db.read() as r:
            leads = await self._load(r, [lead_id])
        if not leads or not dealers.allows(leads[lead_id].dealer_id):
            raise LeadNotFound(f"lead {lead_id} does not exist")
        return leads[lead_id]

    async def find_by_phone(self, e164: str) -> Lead | None:
        """This node's dealer's lead owning a number (inbound callers, SMS replies); a number is one lead's
        per dealer."""
        async with self._db.read() as r:
            lead_id = await r.fetchval(
                "SELECT lead_id FROM lead_phones WHERE dealer_id = ? AND e164 = ?", (self.dealer_id, e164)
            )
            return None if lead_id is None else (await self._load(r, [lead_id]))[lead_id]

    async def events(self, lead_id: int) -> list[LeadEvent]:
        """The lead's history, oldest first."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM lead_events WHERE lead_id = ? ORDER BY id", (lead_id,))
        return [
            LeadEvent(row["id"], row["lead_id"], row["kind"], from_db(row["at"]), row["actor"], json.loads(row["data"]))
            for row in rows
        ]

    async def due(
        self,
        until: datetime | None,
        *,
        owner: str | None = None,
        kind: DueKind | None = None,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[Lead]:
        """Leads due at or before ``until`` (every scheduled lead if None), earliest first; only ``owner``'s,
        only for ``kind`` when given, only those ``dealers`` sees."""
        sql = f"SELECT * FROM leads WHERE due_at IS NOT NULL AND {dealer_sql(dealers, 'dealer_id')}"
        params: list[Any] = []
        if until is not None:
            sql += " AND due_at <= ?"
            params.append(to_db(until))
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        if kind is not None:
            sql += " AND due_kind = ?"
            params.append(kind.value)
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " ORDER BY due_at, id", params)
            return await self._leads_of(r, rows)

    async def refresh_due(self) -> int:
        """Recompute the deadline of leads whose visit began before its reminder went out; how many.

        The stored deadline is computed when a lead changes, and only the visit reminder depends on the
        time it is computed at (none once the visit has begun). A reminder that never went (the SMS worker
        was off, or the clock jumped) would leave its lead due for a reminder of a past visit, and never
        due for the no-show call. Readers of the due list call this first; it writes only when needed.
        """
        now = self._clock.now()
        # due_at <= now first: a stale reminder was due before its visit, and leads_due indexes due_at.
        stale_sql = "SELECT id FROM leads WHERE due_at <= ? AND due_kind = ? AND visit_at <= ?"
        params = (to_db(now), DueKind.VISIT_REMINDER.value, to_db(now))
        async with self._db.read() as r:
            if not await r.fetchall(stale_sql, params):
                return 0
        async with self._db.write() as tx:
            stale = await self._load(tx, [row["id"] for row in await tx.fetchall(stale_sql, params)])
            for lead in stale.values():
                await self._save(tx, lead, {}, [], lead.updated_at)  # not a change of the lead: updated_at stays
        log.info("leads.due_refreshed", leads=sorted(stale))
        return len(stale)

    async def count(self) -> int:
        """How many leads are stored (reports, tests, the bench)."""
        async with self._db.read() as r:
            return int(await r.fetchval("SELECT COUNT(*) FROM leads"))

    async def search(self, query: LeadQuery, now: datetime, dealers: DealerScope = EVERY_DEALER) -> LeadPage:
        """A page of leads matching ``query`` that ``dealers`` sees, earliest deadline first (leads without one last)."""
        where, params = _where(query, now, dealers)
        async with self._db.read() as r:
            total = int(await r.fetchval(f"SELECT COUNT(*) FROM leads{where}", params))
            rows = await r.fetchall(
                f"SELECT * FROM leads{where} ORDER BY due_at IS NULL, due_at, id LIMIT ? OFFSET ?",
                [*params, query.per_page, (query.page - 1) * query.per_page],
            )
            leads = await self._leads_of(r, rows)
        return LeadPage(tuple(leads), total)

    async def ownership(
        self, now: datetime, *, owner: str | None = None, dealers: DealerScope = EVERY_DEALER
    ) -> list[OwnershipCount]:
        """Leads per owner and state with their overdue count; only ``owner``'s when given; only ``dealers``'s."""
        sql = (
            "SELECT owner, state, COUNT(*) AS leads, SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) AS overdue FROM leads"
            f" WHERE {dealer_sql(dealers, 'dealer_id')}"
        )
        params: list[Any] = [to_db(now)]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        async with self._db.read() as r:
            rows = await r.fetchall(sql + " GROUP BY owner, state ORDER BY owner IS NULL, owner, state", params)
        return [
            OwnershipCount(row["owner"], LeadState(row["state"]), int(row["leads"]), int(row["overdue"]))
            for row in rows
        ]

    async def _load(self, r: Reader | Tx, ids: Sequence[int]) -> dict[int, Lead]:
        rows = []
        for chunk in _chunks(ids):
            rows += await r.fetchall(f"SELECT * FROM leads WHERE id IN ({_marks(chunk)})", chunk)
        return {lead.id: lead for lead in await self._leads_of(r, rows)}

    async def _leads_of(self, r: Reader | Tx, rows: Sequence[Row]) -> list[Lead]:
        """Lead rows with their numbers and their opt-out (read from the suppression list), in row order."""
        ids = [row["id"] for row in rows]
        phones = await self._phones(r, ids)
        opted_out = await self._opted_out(r, ids)
        return [_lead(row, phones.get(row["id"], ()), opted_out.get(row["id"])) for row in rows]

    async def _opted_out(self, r: Reader | Tx, ids: Sequence[int]) -> dict[int, datetime]:
        """Leads all of whose numbers are on the suppression list, and since when (the latest entry)."""
        found: dict[int, datetime] = {}
        for chunk in _chunks(ids):
            sql = (
                "SELECT p.lead_id, MAX(s.at) AS at FROM lead_phones p"
                " LEFT JOIN suppressions s ON s.e164 = p.e164 AND s.lifted_at IS NULL"
                f" WHERE p.lead_id IN ({_marks(chunk)}) GROUP BY p.lead_id HAVING COUNT(s.id) = COUNT(*)"
            )
            found.update((row["lead_id"], from_db(row["at"])) for row in await r.fetchall(sql, chunk))
        return found

    async def _phones(self, r: Reader | Tx, ids: Sequence[int]) -> dict[int, tuple[LeadPhone, ...]]:
        found: dict[int, list[LeadPhone]] = {}
        for chunk in _chunks(ids):
            sql = f"SELECT lead_id, e164, kind FROM lead_phones WHERE lead_id IN ({_marks(chunk)}) ORDER BY rowid"
            for row in await r.fetchall(sql, chunk):
                found.setdefault(row["lead_id"], []).append(LeadPhone(row["e164"], PhoneKind(row["kind"])))
        return {lead_id: tuple(p) for lead_id, p in found.items()}

    async def hygiene_facts(
        self, start: datetime, end: datetime, trend_start: datetime, dealers: DealerScope = EVERY_DEALER
    ) -> HygieneFacts:
        """The raw facts of the monthly clean-up for [start, end) of the dealers ``dealers`` sees; defeated
        leads from ``trend_start``."""
        month = (to_db(start), to_db(end))
        json_text = self._db.dialect.json_text
        mine = dealer_sql(dealers, "l.dealer_id")
        async with self._db.read() as r:
            rejects = await r.fetchall(
                "SELECT r.import_id, i.file_name, r.row, r.value, r.reason FROM lead_import_rejects r"
                " JOIN lead_imports i ON i.id = r.import_id"
                " WHERE i.at >= ? AND i.at < ? AND r.col IN ('mobile', 'landline')"
                f" AND {dealer_sql(dealers, 'i.dealer_id')} ORDER BY r.import_id, r.row",
                month,
            )
            wrong = await r.fetchall(
                "SELECT DISTINCT e.lead_id, l.name, CASE WHEN e.kind = 'state' THEN 'marked_invalid' ELSE 'vacant' END AS why,"
                " (SELECT p.e164 FROM lead_phones p WHERE p.lead_id = l.id ORDER BY p.rowid LIMIT 1) AS phone"
                " FROM lead_events e JOIN leads l ON l.id = e.lead_id"
                f" WHERE e.at >= ? AND e.at < ? AND {mine} AND ("
                f"   (e.kind IN (?, ?) AND {json_text('e.data', 'outcome')} = ?)"
                f"   OR (e.kind = ? AND {json_text('e.data', 'to')} = ?))"
                " ORDER BY e.lead_id",
                (
                    *month,
                    LeadEventKind.CONTACT.value,
                    LeadEventKind.ATTEMPT.value,
                    Outcome.VACANT.value,
                    LeadEventKind.STATE.value,
                    LeadState.INVALID.value,
                ),
            )
            imports = await r.fetchall(
                "SELECT id, file_name, rows_total, merged, updated + unchanged AS matched, conflicts FROM lead_imports"
                f" WHERE at >= ? AND at < ? AND {dealer_sql(dealers, 'dealer_id')} ORDER BY id",
                month,
            )
            candidates = await r.fetchall(
                f"SELECT name, model, {self._db.dialect.id_list('id')} AS ids FROM ("
                "  SELECT id, name, model FROM leads l WHERE model IS NOT NULL AND state NOT IN (?, ?)"
                f" AND {mine} ORDER BY id) AS c"
                " GROUP BY name, model HAVING COUNT(*) > 1 ORDER BY name, model",
                (LeadState.DEAL.value, LeadState.INVALID.value),
            )
            defeated = await r.fetchall(
                f"SELECT l.id, e.at, COALESCE({json_text('e.data', 'defeat_reason')}, l.defeat_reason) AS reason,"
                " l.source, l.model, 0 AS handed_over"
                " FROM lead_events e JOIN leads l ON l.id = e.lead_id"
                f" WHERE e.kind = ? AND {json_text('e.data', 'to')} = ? AND e.at >= ? AND e.at < ? AND {mine}"
                " UNION ALL"
                f" SELECT l.id, e.at, {json_text('e.data', 'defeat_reason')}, l.source, l.model, 1"
                " FROM lead_events e JOIN leads l ON l.id = e.lead_id"
                f" WHERE e.kind = ? AND e.at >= ? AND e.at < ? AND l.source = ? AND {mine}",
                (
                    LeadEventKind.STATE.value,
                    LeadState.DEFEATED.value,
                    to_db(trend_start),
                    month[1],
                    LeadEventKind.CREATED.value,
                    to_db(trend_start),
                    month[1],
                    LeadSource.DEFEATED.value,
                ),
            )
        rejected = [RejectedNumber(x["import_id"], x["file_name"], x["row"], x["value"], x["reason"]) for x in rejects]
        return HygieneFacts(
            rejected_numbers=[x for x in rejected if not x.reason.startswith(AMBIGUOUS)],
            wrong_numbers=[WrongNumber(x["lead_id"], x["name"], x["phone"], x["why"]) for x in wrong],
            imports=[
                ImportDuplicates(x["id"], x["file_name"], x["rows_total"], x["merged"], x["matched"], x["conflicts"])
                for x in imports
            ],
            ambiguous_rows=[x for x in rejected if x.reason.startswith(AMBIGUOUS)],
            candidates=[
                MergeCandidate(x["name"], x["model"], tuple(int(i) for i in x["ids"].split(","))) for x in candidates
            ],
            defeated=[
                DefeatedLead(x["id"], from_db(x["at"]), x["reason"], x["source"], x["model"], bool(x["handed_over"]))
                for x in defeated
            ],
        )

    # -- import ----------------------------------------------------------------------------

    async def import_drafts(
        self, drafts: Sequence[LeadDraft], parse_rejections: Sequence[Rejection], src: ImportSource, actor: str
    ) -> ImportRun:
        """Match, plan and write one file's valid rows in ONE transaction.

        The import run is logged when it changed something, when this file was never seen
        before (with its rejections: those of a file already seen were logged then), or when
        these bytes were never imported with this recipe (so the next import can skip them);
        importing the same file again otherwise leaves the store exactly as it was.
        """
        now = self._clock.now()
        async with self._db.write() as tx:
            previous = await self._previous_import(tx, src.file_sha256)
            # Recording the first run of these bytes with this recipe, even one that changes nothing, is
            # what lets the next import of the same file be skipped (find_import).
            unrecorded = src.recipe is not None and await self._previous_import(tx, src.file_sha256, src.recipe) is None
            numbers = sorted({p.e164 for d in drafts for p in d.phones})
            lead_ids: set[int] = set()
            for chunk in _chunks(numbers):
                rows = await tx.fetchall(
                    f"SELECT lead_id FROM lead_phones WHERE dealer_id = ? AND e164 IN ({_marks(chunk)})",
                    (self.dealer_id, *chunk),
                )
                lead_ids.update(row["lead_id"] for row in rows)
            ids = sorted(lead_ids)
            existing = await self._load(tx, ids)
            claimants = await self._claimants(tx, ids)
            import_id = int(await tx.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM lead_imports"))
            next_id = int(await tx.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM leads"))
            plan = plan_import(
                drafts,
                existing,
                claimants,
                rules=self._rules,
                now=now,
                actor=actor,
                import_id=import_id,
                next_id=next_id,
                phone_field=src.phone_field,
                dealer_id=self.dealer_id,
            )
            rejections = sorted([*parse_rejections, *plan.rejections], key=lambda r: r.row)
            if not plan.writes and not unrecorded and (previous is not None or not rejections):
                return ImportRun(plan, None, previous)
            # Rejections of a file already seen were logged with its first import.
            await self._log_import(tx, import_id, now, actor, src, plan, rejections, log_rejections=previous is None)
            await _insert_leads(tx, plan.created)
            await _insert_rows(
                tx,
                "lead_phones",
                _PHONE_COLUMNS,
                [(p.e164, lead.id, p.kind.value, lead.dealer_id) for lead in plan.created for p in lead.phones]
                + [(p.e164, c.lead.id, p.kind.value, c.lead.dealer_id) for c in plan.changed for p in c.new_phones],
            )
            await tx.executemany(_UPDATE_LEAD, [(*row[1:], row[0]) for row in _lead_rows(c.lead for c in plan.changed)])
            await self._append(tx, plan.events)
            # The file's opt-out column puts every number of the lead on the one list; a number the file
            # adds to a lead that had opted out joins it (the person asked, not one of their numbers).
            suppressions = SuppressionStore(self._db, dealer_id=self.dealer_id)
            for lead in [*plan.created, *(c.lead for c in plan.changed)]:
                if lead.opt_out_at is not None:
                    numbers = [p.e164 for p in lead.phones]
                    reason = f"import {import_id}: {src.file_name}"
                    await suppressions.add_many(numbers, reason, SuppressionSource.IMPORT, now, actor, lead.id)
        log.info(
            "leads.imported",
            import_id=import_id,
            file=src.file_name,
            created=len(plan.created),
            updated=len(plan.updated_rows),
            unchanged=len(plan.unchanged_rows),
            merged=len(plan.merged_rows),
            rejected=len(rejections),
            conflicts=len(plan.conflicts),
        )
        return ImportRun(plan, import_id, previous)

    async def find_import(self, file_sha256: str, recipe: str) -> PreviousImport | None:
        """The latest import of these bytes with this recipe: importing them again would change nothing."""
        async with self._db.read() as r:
            return await self._previous_import(r, file_sha256, recipe)

    async def _previous_import(
        self, r: Reader | Tx, file_sha256: str, recipe: str | None = None
    ) -> PreviousImport | None:
        """The latest import of these bytes (with this recipe when given)."""
        sql = (
            "SELECT id, at, file_name, rows_total, created, updated, unchanged, rejected FROM lead_imports"
            " WHERE dealer_id = ? AND file_sha256 = ?"
        )
        params: list[Any] = [self.dealer_id, file_sha256]
        if recipe is not None:
            sql += " AND recipe = ?"
            params.append(recipe)
        row = await r.fetchone(sql + " ORDER BY id DESC LIMIT 1", params)
        if row is None:
            return None
        return PreviousImport(
            row["id"],
            from_db(row["at"]),
            row["file_name"],
            row["rows_total"],
            row["created"],
            row["updated"],
            row["unchanged"],
            row["rejected"],
        )

    async def _claimants(self, tx: Tx, ids: Sequence[int]) -> dict[int, frozenset[str]]:
        found: dict[int, set[str]] = {}
        for chunk in _chunks(ids):
            sql = (
                f"SELECT lead_id, {self._db.dialect.json_text('data', 'claimant')} AS claimant FROM lead_events "
                f"WHERE kind = ? AND lead_id IN ({_marks(chunk)})"
            )
            for row in await tx.fetchall(sql, [LeadEventKind.OWNERSHIP_CONFLICT.value, *chunk]):
                found.setdefault(row["lead_id"], set()).add(row["claimant"])
        return {lead_id: frozenset(names) for lead_id, names in found.items()}

    async def _log_import(
        self,
        tx: Tx,
        import_id: int,
        now: datetime,
        actor: str,
        src: ImportSource,
        plan: ImportPlan,
        rejections: Sequence[Rejection],
        *,
        log_rejections: bool,
    ) -> None:
        await tx.execute(
            "INSERT INTO lead_imports (id, at, actor, file_name, file_sha256, recipe, source, rows_total, created,"
            " updated, unchanged, merged, rejected, conflicts, dealer_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                import_id,
                to_db(now),
                actor,
                src.file_name,
                src.file_sha256,
                src.recipe,
                None if src.source is None else src.source.value,
                src.rows_total,
                len(plan.created),
                len(plan.updated_rows),
                len(plan.unchanged_rows),
                len(plan.merged_rows),
                len({r.row for r in rejections}),
                len(plan.conflicts),
                self.dealer_id,
            ),
        )
        if not log_rejections:
            return
        await tx.executemany(
            "INSERT INTO lead_import_rejects (import_id, row, field, col, value, reason) VALUES (?, ?, ?, ?, ?, ?)",
            [(import_id, r.row, r.field, r.column, r.value, r.reason) for r in rejections],
        )

    async def _append(self, tx: Tx, events: Iterable[NewEvent]) -> None:
        times: dict[datetime, str] = {}  # an import's events share one instant: rendered once
        await _insert_rows(
            tx,
            "lead_events",
            _EVENT_COLUMNS,
            [
                (
                    e.lead_id,
                    e.kind.value,
                    times.get(e.at) or times.setdefault(e.at, to_db(e.at)),
                    e.actor,
                    _JSON(e.data),
                )
                for e in events
            ],
        )

    # -- changes from calls, agents and SMS --------------------------------------------------

    async def record_contact(
        self, lead_id: int, at: datetime, actor: str, outcome: Outcome, attempt_id: int | None = None
    ) -> Lead:
        """Record a phone call to the lead: a follow-up if the customer spoke with an agent, else an attempt.

        Only a conversation (``Outcome.talked_with_agent``) counts as a follow-up: it sets
        first/last contact, moves a new or re-activated lead to following, and fulfils an agreed
        callback whose time has come. A customer who picked up but was never put through
        (abandoned, hung up during the hold) was not followed up. Every call is kept in the
        history either way.
        """
        async with self._db.write() as tx:
            lead = await self._get_for_update(tx, lead_id)
            reached = outcome.talked_with_agent
            kind = LeadEventKind.CONTACT if reached else LeadEventKind.ATTEMPT
            data = {
                "channel": "phone",
                "outcome": outcome.value,
                "attempt_id": attempt_id,
                "first": reached and not lead.followed_up,
            }
            events = [NewEvent(lead_id, kind, at, actor, data)]
            changes: dict[str, Any] = {}
            if reached:
                changes.update(last_contact_at=at, first_contact_at=lead.first_contact_at or at)
                if lead.callback_at is not None and lead.callback_at <= at:
                    changes["callback_at"] = None
                if lead.state in (LeadState.NEW, LeadState.REACTIVATED):
                    changes["state"] = LeadState.FOLLOWING
                    events.append(_state_event(lead, LeadState.FOLLOWING, at, actor, "first follow-up"))
            return await self._save(tx, lead, changes, events, at)

    async def change_state(
        self,
        lead_id: int,
        state: LeadState,
        at: datetime,
        actor: str,
        *,
        reason: str | None = None,
        intent: IntentLevel | None = None,
        callback_at: datetime | None = None,
        visit_at: datetime | None = None,
        defeat_reason: str | None = None,
        data: Mapping[str, Any] | None = None,
        cancel_visit: str | None = None,
        purpose: str | None = None,
    ) -> Lead:
        """Apply one follow-up result: the new state and what the agent recorded with it.

        Refuses a change DOSS would not accept (:class:`LeadStateError`). Re-activation
        counts as a fresh hand-over, so the 2-day first follow-up deadline starts again.
        ``data`` is added to the state event (e.g. the DOSS result wording). ``cancel_visit``
        (why): the booked visit is called off, a ``visit_cancelled`` event keeps what it was.
        ``purpose`` (跟进目的) says what the planned contact is for: it is kept on its callback or
        visit event, which is where the plan is.
        """
        async with self._db.write() as tx:
            lead = await self._get_for_update(tx, lead_id)
            events: list[NewEvent] = []
            changes: dict[str, Any] = {}
            if state is not lead.state:
                check_transition(lead_id, lead.state, state)
                changes["state"] = state
                events.append(_state_event(lead, state, at, actor, reason, defeat_reason=defeat_reason, **(data or {})))
                if state is LeadState.REACTIVATED:
                    changes.update(handed_over_at=at, callback_at=None, visit_at=None)
            if intent is not None:
                changes["intent"] = intent
            if defeat_reason is not None:
                changes["defeat_reason"] = defeat_reason
            if callback_at is not None:
                changes["callback_at"] = callback_at
                events.append(
                    NewEvent(
                        lead_id,
                        LeadEventKind.CALLBACK,
                        at,
                        actor,
                        {"callback_at": callback_at.isoformat(), **_purpose(purpose)},
                    )
                )
            if cancel_visit is not None:
                changes.update(visit_at=None, visit_reminded_at=None, visit_confirmed_at=None)
                events.append(NewEvent(lead_id, LeadEventKind.VISIT_CANCELLED, at, actor,
                                       {"visit_at": _iso(lead.visit_at), "reason": cancel_visit}))  # fmt: skip
            if visit_at is not None:
                changes.update(visit_at=visit_at, visit_reminded_at=None, visit_confirmed_at=None)
                events.append(
                    NewEvent(
                        lead_id,
                        LeadEventKind.VISIT_BOOKED,
                        at,
                        actor,
                        {"visit_at": visit_at.isoformat(), **_purpose(purpose)},
                    )
                )
            return await self._save(tx, lead, changes, events, at)

    async def record_manual_call(self, lead_id: int, at: datetime, actor: str, data: Mapping[str, Any]) -> None:
        """Write into the lead's history that ``actor`` placed a call by hand (see LeadEventKind.MANUAL_CALL)."""
        async with self._db.write() as tx:
            await self._append(tx, [NewEvent(lead_id, LeadEventKind.MANUAL_CALL, at, actor, dict(data))])

    async def record_sms(self, lead_id: int, at: datetime, actor: str, data: Mapping[str, Any]) -> None:
        """Write into the lead's history that ``actor`` sent the customer an SMS (see LeadEventKind.SMS)."""
        async with self._db.write() as tx:
            await self._append(tx, [NewEvent(lead_id, LeadEventKind.SMS, at, actor, dict(data))])

    async def record_visit_reminder(self, lead_id: int, at: datetime, actor: str, not_sent: str | None = None) -> Lead:
        """The day-before SMS went out (or, ``not_sent``, could not, and why): the reminder is no longer due."""
        async with self._db.write() as tx:
            lead = await self._get_for_update(tx, lead_id)
            data = {"visit_at": _iso(lead.visit_at), **({"not_sent": not_sent} if not_sent else {})}
            event = NewEvent(lead_id, LeadEventKind.VISIT_REMINDED, at, actor, data)
            return await self._save(tx, lead, {"visit_reminded_at": at}, [event], at)

    async def record_visit_confirmed(self, lead_id: int, at: datetime, actor: str, text: str) -> Lead:
        """The customer confirmed the booked visit (an SMS reply): no confirmation call is due any more.
        A second confirmation of the same visit changes nothing."""
        async with self._db.write() as tx:
            lead = await self._get_for_update(tx, lead_id)
            if lead.visit_confirmed_at is not None:
                return lead
            event = NewEvent(
                lead_id, LeadEventKind.VISIT_CONFIRMED, at, actor, {"visit_at": _iso(lead.visit_at), "reply": text}
            )
            return await self._save(tx, lead, {"visit_confirmed_at": at}, [event], at)

    async def visit_board(
        self, start: datetime, end: datetime, since: datetime, owner: str | None, dealers: DealerScope = EVERY_DEALER
    ) -> VisitBoard:
        """Invited leads with a visit in [start, end), earliest first, and the visits called off since ``since``
        (newest first); only ``owner``'s leads when given."""
        mine = f" AND {dealer_sql(dealers, 'dealer_id')}" + ("" if owner is None else " AND owner = ?")
        by_owner = () if owner is None else (owner,)
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT id FROM leads WHERE state = ? AND visit_at >= ? AND visit_at < ?{mine} ORDER BY visit_at, id",
                (LeadState.INVITED.value, to_db(start), to_db(end), *by_owner),
            )
            json_text = self._db.dialect.json_text
            cancelled = await r.fetchall(
                f"SELECT e.lead_id, e.at, e.actor, {json_text('e.data', 'visit_at')} AS visit_at,"
                f" {json_text('e.data', 'reason')} AS reason FROM lead_events e JOIN leads l ON l.id = e.lead_id"
                f" WHERE e.kind = ? AND e.at >= ?{mine.replace('owner', 'l.owner').replace('dealer_id', 'l.dealer_id')} ORDER BY e.at DESC, e.id DESC",
                (LeadEventKind.VISIT_CANCELLED.value, to_db(since), *by_owner),
            )
            leads = await self._load(
                r, list(dict.fromkeys([row["id"] for row in rows] + [row["lead_id"] for row in cancelled]))
            )
        return VisitBoard(
            upcoming=tuple(leads[row["id"]] for row in rows),
            cancelled=tuple(
                CancelledVisit(leads[row["lead_id"]], from_db(row["at"]), row["actor"],
                               from_db_or_none(row["visit_at"]), row["reason"])
                for row in cancelled
            ),
        )  # fmt: skip

    async def record_suppression(self, lead_id: int, at: datetime, actor: str, data: Mapping[str, Any]) -> Lead:
        """Numbers of the lead went on or off the suppression list: an ``opt_out`` event (``data`` says
        which, why, from where) and the due time again (a lead all of whose numbers are suppressed is
        never due)."""
        async with self._db.write() as tx:
            lead = await self._get_for_update(tx, lead_id)
            return await self._save(tx, lead, {}, [NewEvent(lead_id, LeadEventKind.OPT_OUT, at, actor, dict(data))], at)

    # -- a manager's decisions ----------------------------------------------------------------

    async def transfer(
        self, lead_ids: Sequence[int], to_owner: str, at: datetime, actor: str, reason: str
    ) -> list[Transfer]:
        """Give leads to ``to_owner`` in ONE transaction; unknown ids refuse the whole batch.

        The import never takes a lead from its first owner (merge.py); this is the
        one way ownership moves, so each change is a ``transferred`` event with who,
        from whom, to whom and why. Low-intent and defeated leads (and re-activated
        ones) count as handed over again: the new owner's 2-day first follow-up clock
        starts at ``at``. A lead that already has ``to_owner`` is left alone.
        """
        ids = list(dict.fromkeys(lead_ids))
        done: list[Transfer] = []
        async with self._db.write() as tx:
            leads = await self._load(tx, ids)
            missing = [lead_id for lead_id in ids if lead_id not in leads]
            if missing:
                raise LeadNotFound(f"lead {', '.join(map(str, missing))} does not exist")
            for lead_id in ids:
                lead = leads[lead_id]
                if lead.owner == to_owner:
                    done.append(Transfer(lead, lead.owner, None))
                    continue
                changes: dict[str, Any] = {"owner": to_owner, "owned_at": at}
                if lead.source in _HANDED_OVER or lead.state is LeadState.REACTIVATED:
                    changes["handed_over_at"] = at
                changed = await self._save(tx, lead, changes, [], at)
                data = json.dumps({"from": lead.owner, "to": to_owner, "reason": reason}, ensure_ascii=False)
                event_id = await tx.insert(
                    _INSERT_EVENT, (lead_id, LeadEventKind.TRANSFERRED.value, to_db(at), actor, data)
                )
                done.append(Transfer(changed, lead.owner, event_id))
        log.info("leads.transferred", to_owner=to_owner, actor=actor, transferred=[t.lead.id for t in done if t.changed],
                 unchanged=[t.lead.id for t in done if not t.changed])  # fmt: skip
        return done

    async def rename_owner(self, old: str, new: str, at: datetime, actor: str, reason: str, dealer_id: int) -> int:
        """File every lead of ``dealer_id`` owned under the name ``old`` under ``new``, the same person's
        identity (an alias the manager just named; names are a dealer's own); an ``owner_renamed`` event
        each. Not a transfer: ``owned_at`` and the deadlines stay. Returns how many leads moved."""
        data = json.dumps({"from": old, "to": new, "reason": reason}, ensure_ascii=False)
        async with self._db.write() as tx:
            await tx.execute(
                "INSERT INTO lead_events (lead_id, kind, at, actor, data)"
                " SELECT id, ?, ?, ?, ? FROM leads WHERE owner = ? AND dealer_id = ?",
                (LeadEventKind.OWNER_RENAMED.value, to_db(at), actor, data, old, dealer_id),
            )
            moved = await tx.execute(
                "UPDATE leads SET owner = ?, updated_at = ? WHERE owner = ? AND dealer_id = ?",
                (new, to_db(at), old, dealer_id),
            )
        log.info("leads.owner_renamed", old=old, new=new, leads=moved, actor=actor)
        return moved

    async def owners(self, dealer_id: int) -> dict[str, int]:
        """Every owner name ``dealer_id``'s leads carry, with how many leads each."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT owner, COUNT(*) AS n FROM leads WHERE owner IS NOT NULL AND dealer_id = ?"
                " GROUP BY owner ORDER BY owner",
                (dealer_id,),
            )
        return {row["owner"]: int(row["n"]) for row in rows}

    async def _get_for_update(self, tx: Tx, lead_id: int) -> Lead:
        leads = await self._load(tx, [lead_id])
        if not leads:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        return leads[lead_id]

    async def _save(
        self, tx: Tx, lead: Lead, changes: Mapping[str, Any], events: Sequence[NewEvent], at: datetime
    ) -> Lead:
        changed = dataclasses.replace(lead, updated_at=at, **changes)
        due = compute_due(changed, self._rules, self._clock.now())
        changed = dataclasses.replace(changed, due_at=due.at if due else None, due_kind=due.kind.value if due else None)
        await tx.execute(_UPDATE_LEAD, (*_lead_row(changed)[1:], lead.id))
        await self._append(tx, events)
        return changed


def _purpose(purpose: str | None) -> dict[str, str]:
    return {} if purpose is None else {"purpose": purpose}


def _state_event(lead: Lead, to: LeadState, at: datetime, actor: str, reason: str | None, **extra: Any) -> NewEvent:
    data = {
        "from": lead.state.value,
        "to": to.value,
        "reason": reason,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return NewEvent(lead.id, LeadEventKind.STATE, at, actor, data)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# Sources whose first follow-up clock runs from the sales manager's hand-over (deadlines.py).
_HANDED_OVER = frozenset({LeadSource.LOW_INTENT, LeadSource.DEFEATED})


def _where(query: LeadQuery, now: datetime, dealers: DealerScope) -> tuple[str, list[Any]]:
    clauses: list[str] = [dealer_sql(dealers, "dealer_id")]
    params: list[Any] = []
    if query.source is not None:
        clauses.append("source = ?")
        params.append(query.source.value)
    if query.state is not None:
        clauses.append("state = ?")
        params.append(query.state.value)
    if query.unassigned:
        clauses.append("owner IS NULL")
    elif query.owner is not None:
        clauses.append("owner = ?")
        params.append(query.owner)
    if query.overdue:
        clauses.append("due_at < ?")
        params.append(to_db(now))
    return ("" if not clauses else " WHERE " + " AND ".join(clauses)), params
