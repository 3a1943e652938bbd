"""The import template: which columns a lead file has and how one row becomes a lead draft.

Pure: rows arrive as lists of cell values (from CSV text or XLSX cells), come
out as a :class:`LeadDraft` or as the list of everything wrong with the row.
Headers are the Chinese ones dealers use; English aliases are accepted so the
same file can come from an English-speaking tool. docs/leads-import.md is the
user-facing description of this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import (
    FieldError,
    IntentLevel,
    LeadPhone,
    LeadSource,
    check_printable,
    parse_date,
    parse_datetime,
    parse_flag,
    parse_intent,
    parse_phone,
    parse_portal,
    parse_source,
    parse_text,
    shown,
)


class Column(StrEnum):
    """A field of the import template; the value is the canonical English header."""

    NAME = "name"
    MOBILE = "mobile"
    LANDLINE = "landline"
    SOURCE = "source"
    MODEL = "model"
    INTENT = "intent"
    ISSUED_AT = "issued_at"
    HANDED_OVER_AT = "handed_over_at"
    CURRENT_CAR = "current_car"
    PURCHASE_DATE = "purchase_date"
    OWNER = "owner"
    NEXT_FOLLOW_UP = "next_follow_up"
    DEFEAT_REASON = "defeat_reason"
    CONSENT = "consent"
    OPT_OUT = "opt_out"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One template column: its Chinese header (what the template shows) and accepted aliases."""

    column: Column
    zh: str
    aliases: tuple[str, ...] = ()


# Template order: what `dialer leads template` writes and the docs list.
TEMPLATE: tuple[ColumnSpec, ...] = (
    ColumnSpec(Column.NAME, "姓名", ("客户姓名", "客户名称", "customer", "customer name")),
    ColumnSpec(Column.MOBILE, "手机", ("手机号", "手机号码", "移动电话", "mobile phone", "cell")),
    ColumnSpec(Column.LANDLINE, "电话", ("固话", "固定电话", "座机", "phone", "telephone")),
    ColumnSpec(Column.SOURCE, "线索来源", ("来源", "潜客来源", "lead source")),
    ColumnSpec(Column.MODEL, "意向车型", ("车型", "model of interest", "interested model")),
    ColumnSpec(Column.INTENT, "意向级别", ("级别", "intent level", "level")),
    ColumnSpec(Column.ISSUED_AT, "下发时间", ("下发日期", "issued", "issue time")),
    ColumnSpec(Column.HANDED_OVER_AT, "移交时间", ("移交日期", "handed over", "handover", "hand-over time")),
    ColumnSpec(Column.CURRENT_CAR, "现有车型", ("现有车辆", "current car", "current vehicle")),
    ColumnSpec(Column.PURCHASE_DATE, "购车日期", ("购车时间", "purchased", "purchase date")),
    ColumnSpec(Column.OWNER, "负责人", ("跟进人", "所属顾问", "agent", "assigned to")),
    ColumnSpec(Column.NEXT_FOLLOW_UP, "下次跟进时间", ("约定回访时间", "next follow-up", "callback", "callback at")),
    ColumnSpec(Column.DEFEAT_REASON, "战败原因", ("lost reason", "defeat reason")),
    ColumnSpec(Column.CONSENT, "同意联系", ("consent",)),
    ColumnSpec(Column.OPT_OUT, "免打扰", ("拒绝联系", "opt-out", "opt out", "do not call")),
    ColumnSpec(Column.NOTE, "备注", ("说明", "note", "notes", "remark", "remarks")),
)

T = TypeVar("T")
D = TypeVar("D", datetime, date)

_DECORATION = re.compile(r"[\s*＊_]|[（(]必填[)）]|[（(]required[)）]", re.IGNORECASE)


def _key(header: str) -> str:
    """Headers compare without spaces, underscores, required-marks or case."""
    return _DECORATION.sub("", header).lower()


_BY_KEY: Mapping[str, Column] = {
    _key(name): spec.column for spec in TEMPLATE for name in (spec.zh, spec.column.value, *spec.aliases)
}


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Which cell index holds which column, and the header text the user wrote for it (escaped, see ``shown``)."""

    index: Mapping[Column, int]
    header: Mapping[Column, str]
    ignored: tuple[str, ...]  # headers we do not know; reported so a typo is not silently dropped


def map_headers(headers: Sequence[object]) -> HeaderMap:
    """Recognise the header row; a file without a name or any phone column cannot be imported."""
    index: dict[Column, int] = {}
    header: dict[Column, str] = {}
    ignored: list[str] = []
    for i, cell in enumerate(headers):
        written = "" if cell is None else str(cell).strip()
        if not written:
            continue
        # Matched as written (a line break inside a header cell is decoration), reported escaped.
        column = _BY_KEY.get(_key(written))
        text = shown(written)
        if column is None:
            ignored.append(text)
        elif column in index:
            raise ImportFileError(f"header row: columns {header[column]!r} and {text!r} both mean {column.value}")
        else:
            index[column] = i
            header[column] = text
    missing = []
    if Column.NAME not in index:
        missing.append("姓名 (name)")
    if Column.MOBILE not in index and Column.LANDLINE not in index:
        missing.append("手机 (mobile) or 电话 (landline)")
    if missing:
        raise ImportFileError(f"header row: missing column {', '.join(missing)}; found {[str(h) for h in headers]}")
    return HeaderMap(index=index, header=header, ignored=tuple(ignored))


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason a row was not imported: which row, which column (as the file names it), what value.

    ``field`` and ``value`` are escaped (:func:`dialer.domain.leads.model.shown`): safe to print and store.
    """

    row: int
    field: str
    value: str
    reason: str
    column: str  # the template column (Column value), whatever the file called it


@dataclass(frozen=True, slots=True)
class UnknownOwner:
    """A row named an owner (负责人) no agent goes by: the lead was imported without an owner."""

    row: int
    name: str


@dataclass(frozen=True, slots=True)
class LeadDraft:
    """A valid row, normalized, not yet matched against other rows or the store."""

    row: int
    name: str
    phones: tuple[LeadPhone, ...]
    source: LeadSource
    owner: str | None = None
    model: str | None = None
    intent: IntentLevel | None = None
    issued_at: datetime | None = None
    handed_over_at: datetime | None = None
    current_car: str | None = None
    purchase_date: date | None = None
    callback_at: datetime | None = None
    defeat_reason: str | None = None
    consent: bool | None = None
    opt_out: bool | None = None
    note: str | None = None
    portal: str | None = None  # the car portal a web lead came from (汽车之家, 易车, ...), from the source cell


@dataclass(frozen=True, slots=True)
class RowContext:
    """What the command line and the config add to every row."""

    region: str  # default phone region
    tz: tzinfo  # dealer time zone: how local times in the file are read
    now: datetime  # times after this are typos, not leads from the future
    max_cell_chars: int  # [leads] import_max_cell_chars: a longer cell refuses its row
    source: LeadSource | None = None  # --source: used where the row has none
    owner: str | None = None  # --owner: used where the row has none


# The version of the rules that turn a file into leads (this module and dialer.domain.leads.merge).
# Part of every import's recipe: raise it when a change would read the same file differently, so files
# imported under the old rules are read again instead of being skipped as unchanged.
IMPORT_RULES_VERSION = 2  # 2: a web lead's portal is kept from its source cell


def import_recipe(ctx: RowContext, owners: Mapping[str, str]) -> str:
    """What besides the file's bytes decides an import's result, as a digest stored with the import.

    The same bytes with the same recipe give the same drafts (``ctx.now`` aside: it only refuses dates
    in the future, which ``--force`` re-reads), so such a file can be recognised and skipped. ``owners``
    is the owner directory (name -> identity): after the manager names an alias, the same file is read
    again and its leads get their owners.
    """
    facts = {
        "rules": IMPORT_RULES_VERSION,
        "region": ctx.region,
        "tz": str(ctx.tz),
        "max_cell_chars": ctx.max_cell_chars,
        "source": None if ctx.source is None else ctx.source.value,
        "owner": ctx.owner,
        "owners": sorted(owners.items()),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# How many distinct cells of a column a reader remembers the result of. Most columns of a lead file
# repeat a few values (models, levels, sources, owners, issue times); a column whose every cell
# differs (names, numbers) fills this and is then parsed cell by cell, within a bounded memory.
_MEMO_CELLS = 4096
_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class _Field:
    """A template column present in the file: where its cells are, how they parse, what was parsed."""

    column: Column
    index: int
    header: str  # as the file wrote it (escaped)
    parse: Callable[[object], object]
    memo: dict[str, object]  # cell text -> its value or the _Refusal of it


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Why a cell is refused, as a column's memo keeps it."""

    reason: str


class RowReader:
    """Turns the data rows of one file into drafts, or into everything wrong with each row.

    One reader per file: it looks up once which columns the file has and how each parses, and
    checks each distinct text of a column once (a model, a level or an issue time repeats over
    thousands of rows). ``owners`` (the owner directory's ``resolve``) files each row's owner
    under the identity of whoever goes by the name; a valid row naming nobody is kept without
    an owner and listed in ``unknown_owners``.
    """

    def __init__(self, headers: HeaderMap, ctx: RowContext, owners: Callable[[str], str | None]) -> None:
        self._ctx = ctx
        self._owners = owners
        self._headers = headers
        self.unknown_owners: list[UnknownOwner] = []
        local_today = ctx.now.astimezone(ctx.tz).date()
        parsers: dict[Column, Callable[[object], object]] = {
            Column.NAME: parse_text,
            Column.MOBILE: _optional(lambda raw: parse_phone(raw, ctx.region)),
            Column.LANDLINE: _optional(lambda raw: parse_phone(raw, ctx.region)),
            Column.SOURCE: _optional(parse_source),
            Column.OWNER: parse_text,
            Column.MODEL: parse_text,
            Column.INTENT: parse_intent,
            Column.ISSUED_AT: lambda raw: _not_future(parse_datetime(raw, ctx.tz), ctx.now),
            Column.HANDED_OVER_AT: lambda raw: _not_future(parse_datetime(raw, ctx.tz), ctx.now),
            Column.CURRENT_CAR: parse_text,
            Column.PURCHASE_DATE: lambda raw: _not_future(parse_date(raw), local_today),
            Column.NEXT_FOLLOW_UP: lambda raw: parse_datetime(raw, ctx.tz),
            Column.DEFEAT_REASON: parse_text,
            Column.CONSENT: parse_flag,
            Column.OPT_OUT: parse_flag,
            Column.NOTE: parse_text,
        }
        self._fields = {
            column: _Field(column, headers.index[column], headers.header[column], parse, {})
            for column, parse in parsers.items()
            if column in headers.index
        }
        self._others = tuple((f, name) for column, name in _OTHER_FIELDS if (f := self._fields.get(column)) is not None)

    def read(self, row: int, cells: Sequence[object]) -> LeadDraft | list[Rejection]:
        """One data row (``row`` is the spreadsheet row number) to a draft, or every reason it is refused.

        Problems are listed in template order, each with the row, the file's header, the value and why.
        """
        ctx = self._ctx
        refused: list[Rejection] = []
        name = self._get(row, cells, Column.NAME, refused)
        if name is None and not refused:
            self._refuse(row, Column.NAME, self._raw(Column.NAME, cells), "empty", refused)
        phones: list[LeadPhone] = []
        for column in (Column.MOBILE, Column.LANDLINE):
            phone = self._get(row, cells, column, refused)
            if phone is not None and phone not in phones:
                phones.append(phone)
        if not phones and not any(r.column in (Column.MOBILE, Column.LANDLINE) for r in refused):
            column = Column.MOBILE if Column.MOBILE in self._headers.index else Column.LANDLINE
            self._refuse(row, column, None, "no phone number", refused)
        before = len(refused)
        source = self._get(row, cells, Column.SOURCE, refused) or ctx.source
        if source is None and len(refused) == before:
            self._refuse(row, Column.SOURCE, None, "empty and no --source given", refused)
        named = self._get(row, cells, Column.OWNER, refused) or ctx.owner
        values = {name: self._value(row, cells, field, refused) for field, name in self._others}
        if refused:
            return refused
        assert source is not None  # else refused above
        owner = None if named is None else self._owners(named)
        if named is not None and owner is None:
            self.unknown_owners.append(UnknownOwner(row, named))
        portal = parse_portal(self._raw(Column.SOURCE, cells)) if source is LeadSource.WEB else None
        return LeadDraft(row=row, name=name, phones=tuple(phones), source=source, owner=owner, portal=portal, **values)

    def _raw(self, column: Column, cells: Sequence[object]) -> object:
        field = self._fields.get(column)
        return cells[field.index] if field is not None and field.index < len(cells) else None

    def _get(self, row: int, cells: Sequence[object], column: Column, refused: list[Rejection]) -> Any:
        """The column's value in this row (None: absent or empty), or None with the reason added to ``refused``."""
        field = self._fields.get(column)
        return None if field is None else self._value(row, cells, field, refused)

    def _value(self, row: int, cells: Sequence[object], field: _Field, refused: list[Rejection]) -> Any:
        if field.index >= len(cells):
            return None
        raw = cells[field.index]
        # An empty cell (most cells of most files) means absent to every parser: not parsed at all.
        if raw is None or raw == "":
            return None
        if type(raw) is str:
            value = field.memo.get(raw, _UNSEEN)
            if value is _UNSEEN:
                value = self._parse(field, raw)
                if len(field.memo) < _MEMO_CELLS:
                    field.memo[raw] = value
        else:
            value = self._parse(field, raw)
        if type(value) is _Refusal:
            self._refuse(row, field.column, raw, value.reason, refused)
            return None
        return value

    def _parse(self, field: _Field, raw: object) -> object:
        """The cell's value, or the :class:`_Refusal` of it (kept, like a value, for the cell's next time)."""
        try:
            # Checked here, where every field of the row goes through, so a control character or a
            # huge cell in any column can only ever become a rejection of this row.
            check_printable(raw)
            if isinstance(raw, str) and len(raw) > self._ctx.max_cell_chars:
                raise FieldError(f"too long: {len(raw)} characters, at most {self._ctx.max_cell_chars}")
            return field.parse(raw)
        except FieldError as exc:
            # Only the reason is kept: the exception's traceback holds this frame (and so this reader,
            # whose memo would hold the exception: a cycle) and every frame below it, up to the one
            # holding the whole file's drafts, all alive until the cycle collector came by.
            return _Refusal(exc.reason)

    def _refuse(self, row: int, column: Column, raw: object, reason: str, refused: list[Rejection]) -> None:
        name = self._headers.header.get(column, column.value)
        refused.append(Rejection(row, name, "" if raw is None else shown(raw), reason, column.value))


# The columns after name, phones, source and owner (in the order their problems are reported), with the
# LeadDraft field each fills.
_OTHER_FIELDS = (
    (Column.MODEL, "model"),
    (Column.INTENT, "intent"),
    (Column.ISSUED_AT, "issued_at"),
    (Column.HANDED_OVER_AT, "handed_over_at"),
    (Column.CURRENT_CAR, "current_car"),
    (Column.PURCHASE_DATE, "purchase_date"),
    (Column.NEXT_FOLLOW_UP, "callback_at"),
    (Column.DEFEAT_REASON, "defeat_reason"),
    (Column.CONSENT, "consent"),
    (Column.OPT_OUT, "opt_out"),
    (Column.NOTE, "note"),
)


def is_blank(cells: Sequence[object]) -> bool:
    """Spreadsheets carry empty trailing rows; they are not data."""
    return all(_blank(c) for c in cells)


def _blank(cell: object) -> bool:
    """No value: what parse_text reads as None (a number or a date is never blank)."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _optional(parse: Callable[[object], T]) -> Callable[[object], T | None]:
    return lambda raw: None if _blank(raw) else parse(raw)


def _not_future(value: D | None, now: D) -> D | None:
    """A hand-over or purchase after "now" is a typo (or a swapped day and month)."""
    if value is not None and value > now:
        raise FieldError("in the future")
    return value
