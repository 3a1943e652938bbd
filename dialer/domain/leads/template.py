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
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import TypeVar

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


@dataclass(slots=True)
class _RowParse:
    """Collects every problem of one row instead of stopping at the first."""

    row: int
    cells: Sequence[object]
    headers: HeaderMap
    max_cell_chars: int
    rejections: list[Rejection] = field(default_factory=list)
    rejected: set[Column] = field(default_factory=set)

    def raw(self, column: Column) -> object:
        i = self.headers.index.get(column)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def get(self, column: Column, parse: Callable[[object], T | None], *, required: bool = False) -> T | None:
        raw = self.raw(column)
        # An empty cell (most cells of most files) means absent to every parser: not parsed at all.
        if raw is None or raw == "":
            value = None
        else:
            try:
                # Checked here, where every field of the row goes through, so a control character or a
                # huge cell in any column can only ever become a rejection of this row.
                check_printable(raw)
                if isinstance(raw, str) and len(raw) > self.max_cell_chars:
                    raise FieldError(f"too long: {len(raw)} characters, at most {self.max_cell_chars}")
                value = parse(raw)
            except FieldError as exc:
                self.reject(column, raw, exc.reason)
                return None
        if value is None and required:
            self.reject(column, raw, "empty")
        return value

    def reject(self, column: Column, raw: object, reason: str) -> None:
        name = self.headers.header.get(column, column.value)
        self.rejected.add(column)
        self.rejections.append(Rejection(self.row, name, "" if raw is None else shown(raw), reason, column.value))


def is_blank(cells: Sequence[object]) -> bool:
    """Spreadsheets carry empty trailing rows; they are not data."""
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def parse_row(row: int, cells: Sequence[object], headers: HeaderMap, ctx: RowContext) -> LeadDraft | list[Rejection]:
    """One data row (``row`` is the spreadsheet row number) to a draft, or every reason it is refused."""
    p = _RowParse(row, cells, headers, ctx.max_cell_chars)
    name = p.get(Column.NAME, parse_text, required=True)
    phones: list[LeadPhone] = []
    for column in (Column.MOBILE, Column.LANDLINE):
        phone = p.get(column, _optional(lambda raw: parse_phone(raw, ctx.region)))
        if phone is not None and phone not in phones:
            phones.append(phone)
    if not phones and not p.rejected & {Column.MOBILE, Column.LANDLINE}:
        p.reject(Column.MOBILE if Column.MOBILE in headers.index else Column.LANDLINE, None, "no phone number")
    source = p.get(Column.SOURCE, _optional(parse_source)) or ctx.source
    if source is None and Column.SOURCE not in p.rejected:
        p.reject(Column.SOURCE, None, "empty and no --source given")
    local_today = ctx.now.astimezone(ctx.tz).date()
    draft = LeadDraft(
        row=row,
        name=name or "",
        phones=tuple(phones),
        source=source or LeadSource.WEB,  # only reached when the row is rejected anyway
        owner=p.get(Column.OWNER, parse_text) or ctx.owner,
        model=p.get(Column.MODEL, parse_text),
        intent=p.get(Column.INTENT, parse_intent),
        issued_at=p.get(Column.ISSUED_AT, lambda raw: _not_future(parse_datetime(raw, ctx.tz), ctx.now)),
        handed_over_at=p.get(Column.HANDED_OVER_AT, lambda raw: _not_future(parse_datetime(raw, ctx.tz), ctx.now)),
        current_car=p.get(Column.CURRENT_CAR, parse_text),
        purchase_date=p.get(Column.PURCHASE_DATE, lambda raw: _not_future(parse_date(raw), local_today)),
        callback_at=p.get(Column.NEXT_FOLLOW_UP, lambda raw: parse_datetime(raw, ctx.tz)),
        defeat_reason=p.get(Column.DEFEAT_REASON, parse_text),
        consent=p.get(Column.CONSENT, parse_flag),
        opt_out=p.get(Column.OPT_OUT, parse_flag),
        note=p.get(Column.NOTE, parse_text),
        portal=parse_portal(p.raw(Column.SOURCE)) if source is LeadSource.WEB else None,
    )
    return p.rejections or draft


def _optional(parse: Callable[[object], T]) -> Callable[[object], T | None]:
    return lambda raw: None if parse_text(raw) is None else parse(raw)


def _not_future(value: D | None, now: D) -> D | None:
    """A hand-over or purchase after "now" is a typo (or a swapped day and month)."""
    if value is not None and value > now:
        raise FieldError("in the future")
    return value
