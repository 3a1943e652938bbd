"""``dialer doss import-states``: the lead states of a DOSS export, taken back into the leads.

Only the showroom's states (visited, deal) are taken (:mod:`dialer.domain.doss.states`); each goes
through :meth:`DossService.record_milestones` with ``from_doss`` (the lead and its history change,
nothing is queued back to DOSS), one row per transaction, so a refused row loses nothing else.
Importing the same export again changes nothing: a row whose state the lead already has, or already
had at that time, is ``unchanged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from dialer.domain.doss.errors import FormError
from dialer.domain.doss.states import ExportHeaderError, RowProblem, StateReport, parse_rows
from dialer.domain.leads.errors import ImportFileError, LeadStateError
from dialer.domain.leads.model import LeadEventKind, LeadState
from dialer.doss.service import DossService
from dialer.leads.sheets import open_sheet
from dialer.logs import get_logger
from dialer.store.leads import LeadStore

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A row that changed a lead."""

    row: int
    lead_id: int
    state: LeadState


@dataclass(frozen=True, slots=True)
class StatesReport:
    """What one import of a DOSS export did."""

    file: str
    recorded: tuple[Recorded, ...]
    unchanged: int  # the lead already has (or had, at that time) the state: nothing to do
    other_states: int  # rows of states the DCC sets itself (following, invited, ...): not taken
    problems: tuple[RowProblem, ...]

    def to_json(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "file": self.file,
            "recorded": [{"row": r.row, "lead_id": r.lead_id, "state": r.state.value} for r in self.recorded],
            "unchanged": self.unchanged,
            "other_states": self.other_states,
            "problems": [{"row": p.row, "field": p.field, "value": p.value, "reason": p.reason} for p in self.problems],
        }


async def import_states(
    path: Path, actor: str, *, leads: LeadStore, doss: DossService, region: str, tz: tzinfo, max_unpacked_bytes: int
) -> StatesReport:
    """Read the export and apply its showroom states; :class:`ImportFileError` if the file cannot be read."""
    try:
        with open_sheet(path, max_unpacked_bytes) as sheet:
            parsed = parse_rows(sheet.headers, sheet.rows, region, tz)
    except ExportHeaderError as exc:
        raise ImportFileError(f"{path}: {exc}") from None
    recorded: list[Recorded] = []
    problems = list(parsed.problems)
    unchanged = 0
    for report in parsed.reports:
        lead = await leads.find_by_phone(report.phone)
        if lead is None:
            problems.append(RowProblem(report.row, "phone", report.phone, "no lead has this number"))
            continue
        if await _already(leads, lead.id, lead.state, report):
            unchanged += 1
            continue
        try:
            await doss.record_milestones([lead.id], report.state, actor, at=report.at, test_drive=report.test_drive,
                                         model=report.model, from_doss=True)  # fmt: skip
        except (LeadStateError, FormError) as exc:
            problems.append(RowProblem(report.row, "state", report.state.zh, str(exc)))
            continue
        recorded.append(Recorded(report.row, lead.id, report.state))
    problems.sort(key=lambda p: p.row)
    log.info("doss.states_imported", file=path.name, recorded=len(recorded), unchanged=unchanged,
             other_states=parsed.other_states, problems=len(problems))  # fmt: skip
    return StatesReport(path.name, tuple(recorded), unchanged, parsed.other_states, tuple(problems))


async def _already(leads: LeadStore, lead_id: int, state: LeadState, report: StateReport) -> bool:
    """The lead has the state now, is past it (a deal is final), or reached it at the reported time."""
    if state is report.state or state is LeadState.DEAL:
        return True
    reached = [
        e.at
        for e in await leads.events(lead_id)
        if e.kind == LeadEventKind.STATE.value and e.data.get("to") == report.state.value
    ]
    return bool(reached) and (report.at is None or report.at in reached)
