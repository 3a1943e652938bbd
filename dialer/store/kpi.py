"""Read-only queries that feed the KPI maths (dialer/domain/kpi/metrics.py) from the lead tables.

The events that count are the leads package's own history kinds (docs/kpi.md):
``contact`` with channel ``phone`` is a phone follow-up, ``state`` carries the new
state in ``data.to``, and every ``contact`` or ``attempt`` by phone of an outbound (or
console-filed) call is one dial; the inbound calls an agent took come from the attempts.

A call counts for the person who had it, under their one identity (docs/kpi.md, "Agents"): the
agent of its attempt (the endpoint the call was put through to), else the identity of the login
that filed it from the console (actor ``web:<login>``), else its actor. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dialer.actors import CONSOLE_ACTOR_PREFIX, SYSTEM_ACTOR
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope, qualified
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.kpi.metrics import CallFact, ContactFact, KpiInput, LeadFact, OwnerChange, StateFact
from dialer.domain.leads.model import LeadEventKind, LeadSource, LeadState
from dialer.domain.reports.funnel import CampaignCall
from dialer.domain.reports.sheets import AgendaFact
from dialer.store.connection import Row
from dialer.store.database import Database, Reader
from dialer.store.dealers import dealer_sql, lead_dealer_sql
from dialer.timestamps import from_db, from_db_or_none, to_db


async def kpi_input(
    db: Database, calls_from: datetime, until: datetime, dealers: DealerScope = EVERY_DEALER
) -> KpiInput:
    """Every lead and lead event before ``until``; calls only from ``calls_from`` (the month's start); of the
    dealers ``dealers`` sees (a group's figures are the sum of its dealers').

    Leads and events go back to the beginning because "carried over un-followed"
    and "first follow-up" depend on a lead's whole history, not just the month.
    """
    end = to_db(until)
    json_text, json_int = db.dialect.json_text, db.dialect.json_int
    phone = f"{json_text('data', 'channel')} = 'phone'"
    mine, of_mine = dealer_sql(dealers, "l.dealer_id"), lead_dealer_sql(dealers, "lead_id")
    async with db.read() as r:
        who = await _agent_names(r, dealers)
        # A web lead's portal is on its creation (the import's source cell, docs/kpi.md "leads per source").
        lead_rows = await r.fetchall(
            "SELECT l.id, l.dealer_id, l.source, l.created_at, l.owner, l.issued_at, l.handed_over_at,"
            f" {json_text('c.data', 'portal')} AS portal, {json_text('c.data', 'handed_over_at')} AS first_handover"
            " FROM leads l"
            f" LEFT JOIN lead_events c ON c.lead_id = l.id AND c.kind = ? WHERE l.created_at < ? AND {mine}",
            (LeadEventKind.CREATED.value, end),
        )
        # Every later hand-over: a manager's transfer, a re-activation (the leads table keeps only the latest).
        handover_rows = await r.fetchall(
            f"SELECT lead_id, at FROM lead_events WHERE at < ? AND (kind = ? OR (kind = ? AND {json_text('data', 'to')} = ?))"
            f" AND {of_mine} ORDER BY at, id",
            (end, LeadEventKind.TRANSFERRED.value, LeadEventKind.STATE.value, LeadState.REACTIVATED.value),
        )
        # HQ issuing a lead again (merge.reissue): each issue its own 48-hour clock. Later re-issues too: the
        # leads table keeps only the latest issue, and a closed month needs the one before it.
        reissue_rows = await r.fetchall(
            f"SELECT lead_id, {json_text('data', 'issued_at')} AS issued_at,"
            f" {json_text('data', 'from_issued_at')} AS from_issued_at, {json_text('data', 'from_source')} AS from_source"
            f" FROM lead_events WHERE kind = ? AND {of_mine} ORDER BY at, id",
            (LeadEventKind.REISSUED.value,),
        )
        contact_rows = await r.fetchall(
            f"SELECT lead_id, at FROM lead_events WHERE kind = ? AND {phone} AND at < ? AND {of_mine}",
            (LeadEventKind.CONTACT.value, end),
        )
        state_rows = await r.fetchall(
            f"SELECT e.lead_id, e.at, {json_text('e.data', 'to')} AS state,"
            f" CASE WHEN {json_text('e.data', 'to')} = ?"
            f" THEN COALESCE({json_text('e.data', 'defeat_reason')}, l.defeat_reason) END AS defeat_reason"
            f" FROM lead_events e JOIN leads l ON l.id = e.lead_id WHERE e.kind = ? AND e.at < ? AND {mine}",
            (LeadState.DEFEATED.value, LeadEventKind.STATE.value, end),
        )
        # Who owned each lead when: its first owner, later assignments and transfers; and every rename to the
        # owner's identity, later ones too (the same person all along: an October lead filed under 王丽 and
        # named agent1 in November was agent1's in October).
        owner_rows = await r.fetchall(
            f"SELECT lead_id, at, kind, CASE WHEN kind IN (?, ?) THEN {json_text('data', 'owner')}"
            f" ELSE {json_text('data', 'to')} END AS owner,"
            f" CASE WHEN kind = ? THEN {json_text('data', 'from')} END AS previous"
            f" FROM lead_events WHERE ((kind IN (?, ?, ?) AND at < ?) OR kind = ?) AND {of_mine} ORDER BY id",
            (LeadEventKind.CREATED.value, LeadEventKind.ASSIGNED.value, LeadEventKind.OWNER_RENAMED.value,
             LeadEventKind.CREATED.value, LeadEventKind.ASSIGNED.value, LeadEventKind.TRANSFERRED.value, end,
             LeadEventKind.OWNER_RENAMED.value),
        )  # fmt: skip
        # Outbound dials per agent: the lead's phone calls but those taken in (counted below, with the calls
        # from numbers that are no lead) and the dialer's own filings (unanswered calls no agent took).
        call_rows = await r.fetchall(
            "SELECT COALESCE(a.agent, u.agent, e.actor) AS agent, e.at, e.kind, e.lead_id FROM lead_events e"
            f" LEFT JOIN attempts a ON a.id = {json_int('e.data', 'attempt_id')}"
            # The console actor is a login, which is the lead's dealer's person's or a group-wide one's.
            " LEFT JOIN users u ON e.actor = ? || u.name"
            " AND (u.dealer_id IS NULL OR u.dealer_id = (SELECT dl.dealer_id FROM leads dl WHERE dl.id = e.lead_id))"
            f" WHERE e.kind IN (?, ?) AND {json_text('e.data', 'channel')} = 'phone' AND e.at >= ? AND e.at < ?"
            " AND e.actor != ? AND (a.direction IS NULL OR a.direction = ?)"
            f" AND {lead_dealer_sql(dealers, 'e.lead_id')}",
            (CONSOLE_ACTOR_PREFIX, LeadEventKind.CONTACT.value, LeadEventKind.ATTEMPT.value, to_db(calls_from), end,
             SYSTEM_ACTOR, Direction.OUTBOUND.value),
        )  # fmt: skip
        # Inbound calls per agent: every call an agent's phone took, a lead's or not (a new caller is a prospect
        # too), on the day it came in (attempts_by_created).
        inbound_rows = await r.fetchall(
            "SELECT agent, dealer_id, created_at AS at, lead_id FROM attempts WHERE direction = ? AND agent IS NOT NULL"
            " AND connected_at IS NOT NULL AND created_at >= ? AND created_at < ?"
            f" AND {dealer_sql(dealers, 'dealer_id')}",
            (Direction.INBOUND.value, to_db(calls_from), end),
        )
    dealer_of = {row["id"]: row["dealer_id"] for row in lead_rows}
    later: dict[int, list[datetime]] = defaultdict(list)
    for row in handover_rows:
        later[row["lead_id"]].append(from_db(row["at"]))
    issues: dict[int, list[datetime]] = defaultdict(list)
    for row in reissue_rows:
        first = not issues[row["lead_id"]]
        if first and row["from_source"] == LeadSource.HQ.value:
            issues[row["lead_id"]].append(datetime.fromisoformat(row["from_issued_at"]))  # the issue before
        issues[row["lead_id"]].append(datetime.fromisoformat(row["issued_at"]))
    return KpiInput(
        leads=[
            LeadFact(
                id=row["id"],
                source=LeadSource(row["source"]),
                created_at=from_db(row["created_at"]),
                owner=who(row["owner"], row["dealer_id"]),
                issued_at=from_db_or_none(row["issued_at"]),
                handed_over_at=from_db_or_none(row["handed_over_at"]),
                portal=row["portal"],
                handovers=_handovers(row, later.get(row["id"], [])),
                hq_issues=tuple(issues.get(row["id"], ())),
            )
            for row in lead_rows
        ],
        contacts=[ContactFact(row["lead_id"], from_db(row["at"])) for row in contact_rows],
        states=[
            StateFact(row["lead_id"], from_db(row["at"]), LeadState(row["state"]), row["defeat_reason"])
            for row in state_rows
        ],
        calls=[
            CallFact(
                who(row["agent"], dealer_of.get(row["lead_id"])),
                from_db(row["at"]),
                Direction.OUTBOUND,
                row["kind"] == LeadEventKind.CONTACT.value,
                row["lead_id"],
            )
            for row in call_rows
        ]
        + [
            CallFact(who(row["agent"], row["dealer_id"]), from_db(row["at"]), Direction.INBOUND, True, row["lead_id"])
            for row in inbound_rows
        ],
        owners=[
            OwnerChange(
                row["lead_id"],
                from_db(row["at"]),
                who(row["owner"], dealer_of.get(row["lead_id"])),
                who(row["previous"], dealer_of.get(row["lead_id"])),
            )
            for row in owner_rows
        ],
    )


async def _agent_names(r: Reader, dealers: DealerScope) -> Callable[[Any, int | None], Any]:
    """How an agent (or owner) name of a dealer's row is shown in the figures of ``dealers``. Identities
    are a dealer's own (every showroom has its 8001), so where several dealers' rows add up, a name is
    qualified with its dealer's code (``pudong/8001``), as a person of another dealer logs in; one
    dealer's figures, and a store that holds one dealer, keep the plain name."""
    codes = {row["id"]: row["code"] for row in await r.fetchall("SELECT id, code FROM dealers")}
    if not dealers.mixed or len(codes) < 2:
        return lambda name, dealer_id: name

    def shown(name: Any, dealer_id: int | None) -> Any:
        # Any: the stored column as read (a name, or NULL for a lead nobody owns), the same type back.
        return name if name is None or dealer_id is None else qualified(codes[dealer_id], name)

    return shown


def _handovers(lead: Row, later: list[datetime]) -> tuple[datetime, ...]:
    """The lead's hand-overs, oldest first. The first is the one its import recorded; a lead imported before
    imports recorded it has today's ``handed_over_at`` if nothing handed it over since (else its creation)."""
    first = lead["first_handover"] or (lead["handed_over_at"] if not later else None) or lead["created_at"]
    return (from_db(first), *later)


async def agenda_facts(
    db: Database, day_start: datetime, day_end: datetime, dealers: DealerScope = EVERY_DEALER
) -> list[AgendaFact]:
    """Leads (``dealers``') due before ``day_end`` (overdue ones included) and leads invited for a visit in
    [day_start, day_end)."""
    async with db.read() as r:
        who = await _agent_names(r, dealers)
        rows = await r.fetchall(
            "SELECT owner, dealer_id, due_at, visit_at, state FROM leads"
            " WHERE (due_at < ? OR (state = ? AND visit_at >= ? AND visit_at < ?))"
            f" AND {dealer_sql(dealers, 'dealer_id')}",
            (to_db(day_end), LeadState.INVITED.value, to_db(day_start), to_db(day_end)),
        )
    return [
        AgendaFact(
            who(row["owner"], row["dealer_id"]),
            from_db_or_none(row["due_at"]),
            from_db_or_none(row["visit_at"]),
            LeadState(row["state"]),
        )
        for row in rows
    ]


async def campaign_calls(
    db: Database, start: datetime, end: datetime, dealers: DealerScope = EVERY_DEALER
) -> tuple[list[CampaignCall], dict[int, str]]:
    """The campaigns' calls to leads placed in [start, end) (``dealers``'), and every campaign's name."""
    async with db.read() as r:
        rows = await r.fetchall(
            "SELECT campaign_id, lead_id, created_at, outcome FROM attempts"
            " WHERE campaign_id IS NOT NULL AND lead_id IS NOT NULL AND direction = ? AND created_at >= ? AND created_at < ?"
            f" AND {dealer_sql(dealers, 'dealer_id')}",
            (Direction.OUTBOUND.value, to_db(start), to_db(end)),
        )
        names = {row["id"]: row["name"] for row in await r.fetchall("SELECT id, name FROM campaigns")}
    calls = [
        CampaignCall(row["campaign_id"], row["lead_id"], from_db(row["created_at"]),
                     None if row["outcome"] is None else Outcome(row["outcome"]))
        for row in rows
    ]  # fmt: skip
    return calls, names
