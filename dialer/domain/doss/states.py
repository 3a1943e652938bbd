"""A DOSS export read back: which leads the showroom reported as visited or bought in DOSS itself.

The showroom sometimes enters a visit or a deal straight into DOSS (the customer walked in, the
consultant closed the sale). The dealer downloads DOSS's lead list and gives it to
``dialer doss import-states``; the lead's state then follows DOSS here too, so the desk stops
calling a customer who bought and the KPIs count the visit. Pure: rows in, parsed reports and
per-row problems out; which of them change a lead is the service's rule (an import of the same file
twice changes nothing the second time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dialer.domain.leads.model import (
    FieldError,
    LeadState,
    check_printable,
    parse_datetime,
    parse_flag,
    parse_phone,
    parse_text,
    shown,
)

# Header -> field. DOSS's own export names first, then what dealers rename them to.
_HEADERS: Mapping[str, str] = {
    "手机": "phone", "手机号": "phone", "手机号码": "phone", "联系电话": "phone", "mobile": "phone",
    "线索状态": "state", "跟进状态": "state", "状态": "state", "lead state": "state", "state": "state",
    "到店时间": "visited_at", "visit time": "visited_at",
    "成交时间": "deal_at", "deal time": "deal_at",
    "状态时间": "at", "更新时间": "at", "time": "at",
    "试乘试驾": "test_drive", "test drive": "test_drive",
    "成交车型": "model", "model bought": "model",
}  # fmt: skip
# The states DOSS may teach us: the showroom's. Every other state is the DCC's own (from its calls).
TAKEN = frozenset({LeadState.VISITED, LeadState.DEAL})
# A model's name is a few words; a longer cell is an accident or an attack, not a car.
MODEL_MAX_CHARS = 100
_STATES: Mapping[str, LeadState] = {**{s.zh: s for s in LeadState}, **{s.value: s for s in LeadState}}


@dataclass(frozen=True, slots=True)
class StateReport:
    """One row of the export that reports a showroom state for a number."""

    row: int
    phone: str  # E.164
    state: LeadState  # visited or deal
    at: datetime | None  # when, if the export says; None: when imported
    test_drive: bool
    model: str | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row (or the header) that could not be used: which field, its value as shown, why."""

    row: int
    field: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedExport:
    """What the rows say: the showroom reports, the rows of other states (skipped), the problems."""

    reports: tuple[StateReport, ...]
    other_states: int
    problems: tuple[RowProblem, ...]


class ExportHeaderError(ValueError):
    """The file lacks a column the import needs; the message names it and lists the accepted headers."""


def columns(headers: Sequence[object]) -> dict[str, int]:
    """Field -> column index from the header row; :class:`ExportHeaderError` without phone and state."""
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = _HEADERS.get(str(header or "").strip().lower())
        if field is not None and field not in found:
            found[field] = index
    for needed in ("phone", "state"):
        if needed not in found:
            names = "/".join(h for h, f in _HEADERS.items() if f == needed)
            raise ExportHeaderError(f"no {needed} column (one of {names})")
    return found


def parse_rows(
    headers: Sequence[object], rows: Iterable[tuple[int, Sequence[object]]], region: str, tz: tzinfo
) -> ParsedExport:
    """Every data row read; a row with a bad cell is a problem naming it and loses nothing else."""
    where = columns(headers)
    reports: list[StateReport] = []
    problems: list[RowProblem] = []
    other = 0

    def cell(values: Sequence[object], field: str) -> object:
        index = where.get(field)
        return None if index is None or index >= len(values) else values[index]

    for number, values in rows:
        if not any(str(v or "").strip() for v in values):
            continue
        raw_state = parse_text(cell(values, "state"))
        state = _STATES.get(raw_state or "")
        if state is None:
            problems.append(RowProblem(number, "state", shown(raw_state or ""), "not a DOSS lead state"))
            continue
        if state not in TAKEN:
            other += 1
            continue
        time_field = "visited_at" if state is LeadState.VISITED else "deal_at"
        try:
            field = "phone"
            phone = parse_phone(cell(values, field), region).e164
            field = time_field if cell(values, time_field) is not None else "at"
            at = parse_datetime(cell(values, field), tz)
            field = "test_drive"
            test_drive = bool(parse_flag(cell(values, field))) and state is LeadState.VISITED
            field = "model"
            check_printable(cell(values, field))
            model = parse_text(cell(values, field)) if state is LeadState.DEAL else None
            if model is not None and len(model) > MODEL_MAX_CHARS:
                raise FieldError(f"longer than {MODEL_MAX_CHARS} characters")
        except FieldError as exc:
            problems.append(RowProblem(number, field, shown(cell(values, field) or ""), exc.reason))
            continue
        reports.append(StateReport(number, phone, state, at, test_drive, model))
    return ParsedExport(tuple(reports), other, tuple(problems))
