"""The store's implementation of :class:`~dialer.domain.calls.attempts.AttemptRepository` (SQLite or PostgreSQL).

The SQL keeps the rules that must hold whoever calls: an outcome is written once
(``WHERE outcome IS NULL``), first answer and connect times are never moved, and a
state the call has moved past is never set back by a late ``mark_started``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, tzinfo

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.campaigns.stats import AbandonTally
from dialer.logs import get_logger
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.store.errors import IntegrityError
from dialer.timestamps import from_db, from_db_or_none, to_db, to_db_or_none

log = get_logger(__name__)


# The columns an Attempt is read from: other store modules that select attempts use these two.
ATTEMPT_COLUMNS = (
    "id, call_id, direction, number, lead_id, campaign_id, agent, state, outcome, hangup_cause, "
    "dial_status, detail, created_at, started_at, answered_at, connected_at, ended_at, recording"
)


def attempt_from_row(row: Row) -> Attempt:
    """The Attempt of a row selected with ``ATTEMPT_COLUMNS``."""
    return Attempt(
        id=row["id"],
        call_id=row["call_id"],
        direction=Direction(row["direction"]),
        number=row["number"],
        lead_id=row["lead_id"],
        campaign_id=row["campaign_id"],
        agent=row["agent"],
        state=CallState(row["state"]),
        outcome=None if row["outcome"] is None else Outcome(row["outcome"]),
        hangup_cause=row["hangup_cause"],
        dial_status=row["dial_status"],
        detail=row["detail"],
        created_at=from_db(row["created_at"]),
        started_at=from_db_or_none(row["started_at"]),
        answered_at=from_db_or_none(row["answered_at"]),
        connected_at=from_db_or_none(row["connected_at"]),
        ended_at=from_db_or_none(row["ended_at"]),
        recording=row["recording"],
    )


# An attempt of this node's PBX (two parameters: the PBX name twice). Without a name (a store-only
# command) every attempt is its own; an attempt without one predates migration 0170 and its
# several nodes: any node may settle it.
_OWN_PBX = "(CAST(? AS TEXT) IS NULL OR pbx IS NULL OR pbx = ?)"


class AttemptStore:
    """Call attempts in the embedded store; see the Protocol for each method's contract."""

    def __init__(self, db: Database, pbx: str | None = None, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``pbx``: the PBX this node drives ([pbx] name): its attempts are stamped with it, and the
        in-flight ones it lists and counts are its own (another node's live calls are that node's).
        ``dealer_id``: this node's dealer, whose a call without a lead (an unknown caller) is; a call
        to or from a lead is the lead's dealer's."""
        self._db = db
        self._pbx = pbx
        self._dealer_id = dealer_id

    def _inbound_wait(self) -> str:
        """An inbound call's wait in seconds, in SQL: arrival (answered by the PBX) to an agent taking it."""
        return self._db.dialect.seconds_between("connected_at", "created_at")

    async def create(
        self,
        *,
        call_id: str,
        direction: Direction,
        number: str | None,
        created_at: datetime,
        lead_id: int | None = None,
        campaign_id: int | None = None,
        agent: str | None = None,
    ) -> Attempt:
        direction = Direction(direction)
        state = CallState.PENDING
        try:
            async with self._db.write() as tx:
                attempt_id = await tx.insert(
                    "INSERT INTO attempts (call_id, direction, number, lead_id, campaign_id, agent, state, created_at, pbx,"
                    " dealer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " COALESCE((SELECT l.dealer_id FROM leads l WHERE l.id = ?), ?))",
                    (
                        call_id,
                        direction.value,
                        number,
                        lead_id,
                        campaign_id,
                        agent,
                        state.value,
                        to_db(created_at),
                        self._pbx,
                        lead_id,
                        self._dealer_id,
                    ),
                )
        except IntegrityError as exc:
            raise IntegrityError(f"attempt call_id={call_id!r} number={number!r}: {exc}") from exc
        log.debug("attempt.created", call_id=call_id, attempt_id=attempt_id, number=number, direction=direction.value)
        return Attempt(
            id=attempt_id,
            call_id=call_id,
            direction=direction,
            number=number,
            lead_id=lead_id,
            campaign_id=campaign_id,
            agent=agent,
            state=state,
            outcome=None,
            hangup_cause=None,
            dial_status=None,
            detail=None,
            created_at=from_db(to_db(created_at)),
            started_at=None,
            answered_at=None,
            connected_at=None,
            ended_at=None,
            recording=None,
        )

    async def mark_started(self, call_id: str, at: datetime) -> bool:
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE attempts SET started_at = COALESCE(started_at, ?),"
                " state = CASE WHEN state = ? THEN ? ELSE state END"
                " WHERE call_id = ?",
                (to_db(at), CallState.PENDING.value, CallState.ORIGINATING.value, call_id),
            )
        return changed == 1

    async def update_progress(
        self,
        call_id: str,
        *,
        state: CallState,
        answered_at: datetime | None = None,
        connected_at: datetime | None = None,
        agent: str | None = None,
        dial_status: str | None = None,
        hangup_cause: int | None = None,
    ) -> bool:
        state = CallState(state)
        if state is CallState.ENDED:
            raise ValueError(f"attempt call_id={call_id!r}: state 'ended' is set by finish(), with an outcome")
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE attempts SET state = ?,"
                " answered_at = COALESCE(answered_at, ?), connected_at = COALESCE(connected_at, ?),"
                " agent = COALESCE(?, agent), dial_status = COALESCE(?, dial_status),"
                " hangup_cause = COALESCE(?, hangup_cause)"
                " WHERE call_id = ? AND outcome IS NULL",
                (
                    state.value,
                    to_db_or_none(answered_at),
                    to_db_or_none(connected_at),
                    agent,
                    dial_status,
                    hangup_cause,
                    call_id,
                ),
            )
        return changed == 1

    async def finish(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        ended_at: datetime,
        hangup_cause: int | None = None,
        dial_status: str | None = None,
        detail: str | None = None,
        recording: str | None = None,
    ) -> bool:
        outcome = Outcome(outcome)
        kept: str | None = None
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE attempts SET state = ?, outcome = ?, ended_at = ?,"
                " hangup_cause = COALESCE(?, hangup_cause), dial_status = COALESCE(?, dial_status),"
                " detail = COALESCE(?, detail), recording = COALESCE(?, recording)"
                " WHERE call_id = ? AND outcome IS NULL",
                (
                    CallState.ENDED.value,
                    outcome.value,
                    to_db(ended_at),
                    hangup_cause,
                    dial_status,
                    detail,
                    recording,
                    call_id,
                ),
            )
            if changed != 1:
                # A second finish is normal (a reconciliation racing the real hang-up);
                # a finish for an attempt never created is a bug upstream. Say which.
                kept = await tx.fetchval("SELECT outcome FROM attempts WHERE call_id = ?", (call_id,))
        if changed == 1:
            log.info("attempt.finished", call_id=call_id, outcome=outcome.value, hangup_cause=hangup_cause)
            return True
        if kept is None:
            log.warning("attempt.finish_unknown", call_id=call_id, outcome=outcome.value)
        else:
            log.info("attempt.finish_ignored", call_id=call_id, outcome=outcome.value, kept_outcome=kept)
        return False

    async def get(self, call_id: str) -> Attempt | None:
        async with self._db.read() as r:
            row = await r.fetchone(f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE call_id = ?", (call_id,))
        return None if row is None else attempt_from_row(row)

    async def by_id(self, attempt_id: int, dealers: DealerScope = EVERY_DEALER) -> Attempt | None:
        """One attempt by its number (the console names calls by it); None if ``dealers`` does not see it."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = ? AND {dealer_sql(dealers, 'dealer_id')}",
                (attempt_id,),
            )
        return None if row is None else attempt_from_row(row)

    async def recent(self, limit: int = 50, offset: int = 0, since: datetime | None = None) -> list[Attempt]:
        if limit < 0 or offset < 0:
            raise ValueError(f"limit = {limit}, offset = {offset}: both must be >= 0")
        async with self._db.read() as r:
            if since is None:
                rows = await r.fetchall(
                    f"SELECT {ATTEMPT_COLUMNS} FROM attempts ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                    (limit, offset),
                )
            else:
                rows = await r.fetchall(
                    f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE created_at >= ?"
                    " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                    (to_db(since), limit, offset),
                )
        return [attempt_from_row(row) for row in rows]

    async def last_talk(self, lead_id: int, agent: str) -> Attempt | None:
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE lead_id = ? AND agent = ? AND connected_at IS NOT NULL"
                " ORDER BY created_at DESC, id DESC LIMIT 1",
                (lead_id, agent),
            )
        return None if row is None else attempt_from_row(row)

    async def ended_by(self, since: datetime) -> Counter[tuple[str | None, int | None, Outcome]]:
        """Attempts ended since ``since``, counted by (agent, campaign, outcome)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT agent, campaign_id, outcome, count(*) AS n FROM attempts"
                " WHERE outcome IS NOT NULL AND ended_at >= ? GROUP BY agent, campaign_id, outcome",
                (to_db(since),),
            )
        return Counter({(row["agent"], row["campaign_id"], Outcome(row["outcome"])): row["n"] for row in rows})

    async def outcomes(self, since: datetime | None = None) -> Counter[Outcome]:
        """Ended attempts by outcome: since ``since``, or ever."""
        where, params = ("AND ended_at >= ?", (to_db(since),)) if since is not None else ("", ())
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT outcome, count(*) AS n FROM attempts WHERE outcome IS NOT NULL {where} GROUP BY outcome",
                params,
            )
        return Counter({Outcome(row["outcome"]): row["n"] for row in rows})

    async def abandonment_by_day(
        self, since: datetime, tz: tzinfo, campaign_id: int | None = None
    ) -> dict[date, AbandonTally]:
        """See :class:`~dialer.domain.campaigns.stats.AbandonmentHistory`: the runner rebuilds its guard
        from this at start, and the wallboard shows it, through the same ``abandon_tallies``."""
        reached = [o.value for o in Outcome if o.reached_person]
        where = " AND campaign_id = ?" if campaign_id is not None else ""
        params: tuple[object, ...] = (Direction.OUTBOUND.value, to_db(since), *reached)
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT ended_at, outcome FROM attempts WHERE direction = ? AND ended_at >= ?"
                f" AND outcome IN ({', '.join('?' * len(reached))}){where}",
                params + ((campaign_id,) if campaign_id is not None else ()),
            )
        counts: dict[date, list[int]] = {}
        for row in rows:
            day = counts.setdefault(from_db(row["ended_at"]).astimezone(tz).date(), [0, 0])
            day[0] += 1
            day[1] += row["outcome"] == Outcome.ABANDONED.value
        return {day: AbandonTally(answered, abandoned) for day, (answered, abandoned) in counts.items()}

    async def inbound_waits_since(self, since: datetime) -> tuple[int, float | None]:
        """Inbound calls an agent took since ``since``, and their average wait in seconds."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT count(*) AS n, avg({self._inbound_wait()}) AS wait FROM attempts"
                " WHERE direction = ? AND connected_at IS NOT NULL AND connected_at >= ?",
                (Direction.INBOUND.value, to_db(since)),
            )
        assert row is not None, "an aggregate always returns one row"
        return row["n"], row["wait"]

    async def inbound_wait_buckets(self, bounds_s: Sequence[float]) -> tuple[tuple[int, ...], float]:
        """Every inbound call an agent took, bucketed by wait: how many waited at most each bound, then
        how many in all (cumulative, as a histogram wants them), and the sum of the waits."""
        buckets = ", ".join(f"sum(CASE WHEN wait <= ? THEN 1 ELSE 0 END) AS le{i}" for i in range(len(bounds_s)))
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT count(*) AS n, coalesce(sum(wait), 0.0) AS total, {buckets} FROM"
                f" (SELECT {self._inbound_wait()} AS wait FROM attempts WHERE direction = ? AND connected_at IS NOT NULL) AS w",
                (*bounds_s, Direction.INBOUND.value),
            )
        assert row is not None, "an aggregate always returns one row"
        return (*(row[f"le{i}"] or 0 for i in range(len(bounds_s))), row["n"]), row["total"]

    async def in_flight(self) -> list[Attempt]:
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE outcome IS NULL AND {_OWN_PBX} ORDER BY created_at, id",
                (self._pbx, self._pbx),
            )
        return [attempt_from_row(row) for row in rows]

    async def count_in_flight(self, direction: Direction | None = None) -> int:
        async with self._db.read() as r:
            if direction is None:
                count = await r.fetchval(
                    f"SELECT count(*) FROM attempts WHERE outcome IS NULL AND {_OWN_PBX}", (self._pbx, self._pbx)
                )
            else:
                count = await r.fetchval(
                    f"SELECT count(*) FROM attempts WHERE outcome IS NULL AND direction = ? AND {_OWN_PBX}",
                    (Direction(direction).value, self._pbx, self._pbx),
                )
        return int(count)
