"""Campaigns and per-lead campaign progress in the store (migration 0030).

:class:`CampaignStore` implements :class:`dialer.domain.campaigns.progress.CampaignRepository`; the
hopper's rules live in the pure modules, this file turns them into index-backed SQL:

* "due and dialable" is one query shape run per ranking tier (first follow-up deadline order,
  promised order, due order), each driven by a partial index and stopped by LIMIT, so the cost of
  picking a batch hardly grows with the number of enrolled leads (bench/hopper.py measures it);
* claiming is the same ``db.write()`` transaction as the selection, so two callers (two tasks,
  two processes, two nodes on one PostgreSQL) can never claim one lead: the write lock and
  ``BEGIN IMMEDIATE`` serialise them on SQLite, the writers' advisory lock on PostgreSQL
  (:mod:`dialer.store.postgres`), and the UPDATE only takes leads still ``active``
  (``tests/store/test_claims.py`` races claimers on separate connections to prove it);
* a claim names the PBX whose node made it (``claimed_pbx``, ``[pbx] name``): a node starting up
  settles its own PBX's claims, never those of another node still dialling them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import CampaignDefinition, LeadFilter, parse_definition
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command, apply
from dialer.domain.campaigns.policy import RetryReason
from dialer.domain.campaigns.progress import (
    CampaignCounts,
    CampaignNotFound,
    CampaignRecord,
    DueLead,
    DueQuery,
    LeadFacts,
    LeadProgress,
    NotEnrolled,
    Pick,
    ProgressStatus,
    ProgressUpdate,
    Synced,
)
from dialer.domain.leads.model import LeadState
from dialer.domain.privacy.policy import ConsentPolicy
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.store.attempts import ATTEMPT_COLUMNS, AttemptStore, attempt_from_row
from dialer.store.database import Database, Reader, Row, Tx
from dialer.store.dealers import dealer_sql
from dialer.store.suppressions import SUPPRESSED, SuppressionStore
from dialer.timestamps import from_db, from_db_or_none, to_db, to_db_or_none

log = get_logger(__name__)

_WORD = re.compile(r"^[a-z_]+$")
# Ids per "IN (...)" statement: far below SQLite's parameter limit.
_IN_CHUNK = 500
# A year of car age, in days: purchase dates are calendar dates, so leap years hardly matter.
_DAYS_PER_YEAR = 365.25

_DUE_SELECT = """
SELECT cl.lead_id, cl.next_attempt_at, cl.promised, cl.callback_owner, cl.handoff, cl.attempts, l.owner,
       cl.callback_at IS NOT NULL AND cl.callback_at = l.callback_at AS callback,
       CASE WHEN l.due_kind = 'first_follow_up' THEN l.due_at END AS deadline,
       (SELECT p.e164 FROM lead_phones p
         WHERE p.lead_id = cl.lead_id AND NOT {suppressed}
         ORDER BY p.kind != 'mobile', p.rowid LIMIT 1) AS phone
  FROM campaign_leads cl JOIN leads l ON l.id = cl.lead_id
 WHERE cl.campaign_id = :campaign AND cl.status = 'active' AND cl.next_attempt_at <= :now
   AND cl.attempts < {max_attempts}
   AND (cl.attempts_day IS DISTINCT FROM :today OR cl.attempts_today < {max_per_day})
   AND ({consent_required} = 0 OR l.consent = 1) AND l.state IN ({states})
   AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.lead_id = cl.lead_id AND a.outcome IS NULL)
   AND NOT EXISTS (SELECT 1 FROM campaign_leads o WHERE o.lead_id = cl.lead_id AND o.status = 'claimed')
   AND EXISTS (SELECT 1 FROM lead_phones p WHERE p.lead_id = cl.lead_id AND NOT {suppressed})
"""
# The lead's first follow-up deadline, for refreshing campaign_leads.deadline_at in an UPDATE.
_DEADLINE = "(SELECT CASE WHEN x.due_kind = 'first_follow_up' THEN x.due_at END FROM leads x WHERE x.id = campaign_leads.lead_id)"
# One query per ranking tier; choose() merges them (dialer/campaigns/hopper.py explains why that is exact).
_TIERS = (
    "AND cl.deadline_at IS NOT NULL ORDER BY cl.deadline_at LIMIT {limit}",
    "AND cl.promised = 1 ORDER BY cl.next_attempt_at LIMIT {limit}",
    "ORDER BY cl.next_attempt_at LIMIT {limit}",
)
# The tiers in one statement (one round trip); each stays its own LIMITed walk of its partial index.
# The values that are the same for every claim of a campaign (its limits, the open states, whether
# consent is required, the batch size) are written into the statement (:func:`_due_sql`). With them
# as parameters, PostgreSQL planned it anew for every claim (5-11 ms at 1M leads, for 0.9 ms of
# execution): its plan for any parameter values guessed that few leads are in an open state and
# sorted every due row, or split the walk over parallel workers, so it never chose that plan. With
# them written in, that plan walks the partial indexes in order and stops at the LIMIT like the
# planned ones, and after a prepared statement's first five runs the server keeps it (0.35-0.5 ms
# per claim at 10,000 and 1M leads; docs/bench.md).
_DUE_TIERS = " UNION ALL ".join(f"SELECT * FROM ({_DUE_SELECT}{tier}) AS tier{n}" for n, tier in enumerate(_TIERS))

# Lead events since the campaign's watermark, for its enrolled leads, in event order: every change
# to a lead (callback agreed, re-import, contact, re-activation) writes one.
# CROSS JOIN makes lead_events the outer loop, so only the id range since the last sync is read.
_NEW_EVENTS = """
SELECT e.id, e.lead_id, cl.status FROM lead_events e
 CROSS JOIN campaign_leads cl
 WHERE cl.campaign_id = ? AND cl.lead_id = e.lead_id AND e.id > ? ORDER BY e.id
"""
# The campaign's status and event watermark, the newest lead event, and whether any SMS hand-off is
# open (its UPDATE is skipped when none is): one look-up for what a sync and a claim start from.
_SYNC_MARKS = """
SELECT status, events_seen, (SELECT COALESCE(MAX(id), 0) FROM lead_events) AS latest,
       EXISTS (SELECT 1 FROM sms_call_tasks WHERE taken_at IS NULL) AS open_handoffs
  FROM campaigns WHERE id = ?
"""
_APPLY_CALLBACKS = """
UPDATE campaign_leads
   SET status = 'active', next_attempt_at = l.callback_at, callback_at = l.callback_at, promised = 1,
       deadline_at = CASE WHEN l.due_kind = 'first_follow_up' THEN l.due_at END,
       callback_owner = (SELECT e.actor FROM lead_events e WHERE e.lead_id = l.id AND e.kind = 'callback'
                          ORDER BY e.id DESC LIMIT 1)
  FROM leads l
 WHERE campaign_leads.campaign_id = ? AND l.id = campaign_leads.lead_id AND campaign_leads.lead_id IN ({ids})
   AND l.callback_at IS NOT NULL AND campaign_leads.status != 'claimed'
   AND (campaign_leads.callback_at IS NULL OR campaign_leads.callback_at != l.callback_at)
"""
_REFRESH_DEADLINES = (
    f"UPDATE campaign_leads SET deadline_at = {_DEADLINE} WHERE campaign_id = ? AND lead_id IN ({{ids}})"
)
# SMS hand-offs (dialer/sms/, table sms_call_tasks of migration 0040): an open task of an enrolled,
# unclaimed lead makes it due at the task's time; an interested reply is a promised call.
_SYNC_HANDOFFS = f"""
UPDATE campaign_leads
   SET status = 'active', next_attempt_at = t.due_at, handoff = t.reason, deadline_at = {_DEADLINE},
       promised = CASE WHEN t.reason = 'sms_interested' THEN 1 ELSE campaign_leads.promised END
  FROM (SELECT lead_id, MIN(due_at) AS due_at,
               CASE WHEN MAX(CASE WHEN reason = 'sms_interested' THEN 1 ELSE 0 END) = 1
                    THEN 'sms_interested' ELSE 'cadence_handoff' END AS reason
          FROM sms_call_tasks WHERE taken_at IS NULL GROUP BY lead_id) AS t
 WHERE campaign_leads.campaign_id = ? AND campaign_leads.lead_id = t.lead_id AND campaign_leads.status != 'claimed'
"""
_TAKE_HANDOFFS = """
UPDATE sms_call_tasks SET taken_at = ?, taken_by = ?
 WHERE taken_at IS NULL
   AND EXISTS (SELECT 1 FROM campaign_leads cl
                WHERE cl.campaign_id = ? AND cl.lead_id = sms_call_tasks.lead_id AND cl.status != 'claimed')
"""


def _due_sql(query: DueQuery, consent_required: bool) -> str:
    """The due query for ``query``, its per-campaign values written in (integers, and the open states:
    enum values, checked to be plain words)."""
    states = [s.value for s in query.open_states]
    if not all(_WORD.match(s) for s in states):
        raise ValueError(f"lead states must be plain words: {states!r}")
    return _DUE_TIERS.format(
        max_attempts=int(query.max_attempts),
        max_per_day=int(query.max_attempts_per_day),
        consent_required=int(consent_required),
        limit=int(query.limit),
        states=", ".join(f"'{s}'" for s in states),
        suppressed=SUPPRESSED.format(number="p.e164"),
    )


async def _sync_marks(tx: Tx, campaign_id: int) -> Row:
    """The campaign's :data:`_SYNC_MARKS` row. Read with ``fetchall``: on SQLite ``fetchone`` is three trips
    to the connection's thread (run, fetch, close the cursor), ``fetchall`` one, and the row is the
    campaign's only one (bench/hopper.py: a claim's trips went from 11 to 9)."""
    rows = await tx.fetchall(_SYNC_MARKS, (campaign_id,))
    if not rows:
        raise CampaignNotFound(f"campaign {campaign_id} does not exist")
    return rows[0]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


async def _each_chunk(tx: Tx, sql: str, campaign_id: int, lead_ids: set[int]) -> int:
    """Run ``sql`` (with an ``{ids}`` slot) for ``lead_ids`` in chunks; returns the rows changed."""
    ids = sorted(lead_ids)
    changed = 0
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        changed += await tx.execute(sql.format(ids=_marks(len(chunk))), (campaign_id, *chunk))
    return changed


def _progress(row: Row) -> LeadProgress:
    return LeadProgress(
        campaign_id=row["campaign_id"],
        lead_id=row["lead_id"],
        status=ProgressStatus(row["status"]),
        enrolled_at=from_db(row["enrolled_at"]),
        attempts=row["attempts"],
        attempts_today=row["attempts_today"],
        attempts_day=None if row["attempts_day"] is None else date.fromisoformat(row["attempts_day"]),
        next_attempt_at=from_db_or_none(row["next_attempt_at"]),
        promised=bool(row["promised"]),
        callback_at=from_db_or_none(row["callback_at"]),
        callback_owner=row["callback_owner"],
        handoff=row["handoff"],
        claimed_at=from_db_or_none(row["claimed_at"]),
        last_attempt_id=row["last_attempt_id"],
        last_attempt_at=from_db_or_none(row["last_attempt_at"]),
        last_outcome=None if row["last_outcome"] is None else Outcome(row["last_outcome"]),
        last_reason=None if row["last_reason"] is None else RetryReason(row["last_reason"]),
    )


def _due_lead(row: Row) -> DueLead:
    return DueLead(
        lead_id=row["lead_id"],
        phone=row["phone"],
        due_at=from_db(row["next_attempt_at"]),
        deadline=from_db_or_none(row["deadline"]),
        promised=bool(row["promised"]),
        callback=bool(row["callback"]),
        callback_owner=row["callback_owner"],
        handoff=row["handoff"],
        owner=row["owner"],
        attempts=row["attempts"],
    )


class CampaignStore:
    """The store's implementation of :class:`~dialer.domain.campaigns.progress.CampaignRepository`.

    ``settings`` re-validates stored definitions (line cap, default rules) on every load.
    """

    def __init__(self, db: Database, settings: Settings, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose the campaigns it creates are unless told."""
        self.dealer_id = dealer_id
        self._db = db
        self._settings = settings
        self._consent = ConsentPolicy.from_settings(settings.privacy)

    # -- campaigns and their lifecycle -----------------------------------------------------------

    async def create(
        self, definition: CampaignDefinition, file_name: str, at: datetime, actor: str, dealer_id: int | None = None
    ) -> CampaignRecord:
        """Store a new campaign of ``dealer_id`` (None: this node's dealer) as a draft."""
        async with self._db.write() as tx:
            campaign_id = await tx.insert(
                "INSERT INTO campaigns (name, kind, status, definition, file_name, created_at, created_by, updated_at,"
                " dealer_id, events_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM lead_events))",
                (
                    definition.name,
                    definition.kind.value,
                    CampaignStatus.DRAFT.value,
                    json.dumps(dict(definition.source), ensure_ascii=False),
                    file_name,
                    to_db(at),
                    actor,
                    to_db(at),
                    self.dealer_id if dealer_id is None else dealer_id,
                ),
            )
            return await self._get(tx, campaign_id)

    async def get(self, campaign_id: int, dealers: DealerScope = EVERY_DEALER) -> CampaignRecord:
        """The campaign, or :class:`CampaignNotFound` (also when ``dealers`` does not see it)."""
        async with self._db.read() as r:
            return await self._get(r, campaign_id, dealers)

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[CampaignRecord]:
        """All campaigns ``dealers`` sees, newest first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT * FROM campaigns WHERE {dealer_sql(dealers, 'dealer_id')} ORDER BY id DESC"
            )
        return [self._record(row) for row in rows]

    async def _get(self, r: Reader | Tx, campaign_id: int, dealers: DealerScope = EVERY_DEALER) -> CampaignRecord:
        row = await r.fetchone(
            f"SELECT * FROM campaigns WHERE id = ? AND {dealer_sql(dealers, 'dealer_id')}", (campaign_id,)
        )
        if row is None:
            raise CampaignNotFound(f"campaign {campaign_id} does not exist")
        return self._record(row)

    def _record(self, row: Row) -> CampaignRecord:
        definition = parse_definition(
            json.loads(row["definition"]), f"campaign {row['id']} ({row['file_name']})", self._settings
        )
        return CampaignRecord(
            id=row["id"],
            definition=definition,
            status=CampaignStatus(row["status"]),
            file_name=row["file_name"],
            created_at=from_db(row["created_at"]),
            created_by=row["created_by"],
            updated_at=from_db(row["updated_at"]),
            dealer_id=row["dealer_id"],
        )

    async def transition(
        self, campaign_id: int, command: Command, at: datetime, actor: str, dealers: DealerScope = EVERY_DEALER
    ) -> CampaignRecord:
        """Apply a lifecycle command atomically and record it in campaign_events (:class:`CampaignNotFound`
        for a campaign ``dealers`` does not see)."""
        async with self._db.write() as tx:
            current = await self._get(tx, campaign_id, dealers)
            target = apply(campaign_id, current.status, command)
            await tx.execute(
                "UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?", (target.value, to_db(at), campaign_id)
            )
            await tx.execute(
                "INSERT INTO campaign_events (campaign_id, at, actor, command, from_status, to_status) VALUES (?, ?, ?, ?, ?, ?)",
                (campaign_id, to_db(at), actor, command.value, current.status.value, target.value),
            )
            log.info(
                "campaign.transition", campaign_id=campaign_id, command=command.value, status=target.value, actor=actor
            )
            return await self._get(tx, campaign_id)

    # -- enrolment ------------------------------------------------------------------------------

    async def enrol(self, campaign: CampaignRecord, at: datetime) -> int:
        """Add the leads matching the campaign's filter that are not enrolled yet: due at ``at``, or at
        the callback time already agreed (a promised call; later callbacks arrive through :meth:`sync`)."""
        where, params = _filter_sql(campaign.definition.lead_filter, at, self._settings)
        sql = (
            "INSERT INTO campaign_leads"
            " (campaign_id, lead_id, status, enrolled_at, next_attempt_at, promised, callback_at, deadline_at)"
            " SELECT ?, id, 'active', ?, COALESCE(callback_at, ?), CASE WHEN callback_at IS NULL THEN 0 ELSE 1 END,"
            f" callback_at, CASE WHEN due_kind = 'first_follow_up' THEN due_at END FROM leads WHERE {where}"
            " AND dealer_id = ? ON CONFLICT DO NOTHING"
        )
        async with self._db.write() as tx:
            # Only the campaign's dealer's leads: a group's nodes never dial another dealer's customers.
            added = await tx.execute(sql, (campaign.id, to_db(at), to_db(at), *params, campaign.dealer_id))
        log.info("campaign.enrolled", campaign_id=campaign.id, added=added)
        return added

    async def matching(self, lead_filter: LeadFilter, at: datetime, dealer_id: int | None = None) -> int:
        """How many of ``dealer_id``'s leads (None: this node's dealer's) ``lead_filter`` selects at ``at``:
        what a start would enrol into a new campaign."""
        where, params = _filter_sql(lead_filter, at, self._settings)
        dealer = self.dealer_id if dealer_id is None else dealer_id
        async with self._db.read() as r:
            return int(
                await r.fetchval(f"SELECT COUNT(*) FROM leads WHERE {where} AND dealer_id = ?", (*params, dealer))
            )

    async def sync(self, campaign_id: int, at: datetime) -> Synced:
        """Make enrolled leads due for agreed callbacks (each once) and open SMS hand-offs (taking them).

        Leads with ``lead_events`` after the campaign's watermark are the only ones whose callback
        or deadline can have changed (agent callback, re-import, contact, re-activation), so the
        cost follows the number of new events, not of leads. An event of a lead claimed right now
        stays unread (the watermark stops before it) until its attempt's result is in.
        """
        async with self._db.write() as tx:
            return await self._sync(tx, campaign_id, at)

    async def _sync(self, tx: Tx, campaign_id: int, at: datetime, marks: Row | None = None) -> Synced:
        """``marks``: the campaign's :data:`_SYNC_MARKS` row when the caller has read it already."""
        if marks is None:
            marks = await _sync_marks(tx, campaign_id)
        seen, latest = marks["events_seen"], marks["latest"]
        ready: set[int] = set()
        touched: set[int] = set()
        new_events = await tx.fetchall(_NEW_EVENTS, (campaign_id, seen)) if latest > seen else []
        for row in new_events:
            touched.add(row["lead_id"])
            if row["status"] == ProgressStatus.CLAIMED:
                latest = min(latest, row["id"] - 1)
            elif row["id"] <= latest:
                ready.add(row["lead_id"])
        callbacks = await _each_chunk(tx, _APPLY_CALLBACKS, campaign_id, ready)
        await _each_chunk(tx, _REFRESH_DEADLINES, campaign_id, touched)
        if latest != seen:
            await tx.execute("UPDATE campaigns SET events_seen = ? WHERE id = ?", (latest, campaign_id))
        handoffs = await tx.execute(_SYNC_HANDOFFS, (campaign_id,)) if marks["open_handoffs"] else 0
        if handoffs:
            await tx.execute(_TAKE_HANDOFFS, (to_db(at), f"campaign {campaign_id}", campaign_id))
        return Synced(callbacks, handoffs)

    # -- the hopper -----------------------------------------------------------------------------

    async def claim(self, query: DueQuery, rank: Callable[[Sequence[DueLead]], list[Pick]]) -> list[Pick]:
        """In one transaction: nothing unless the campaign is running; else :meth:`sync`, find due leads
        per tier, let ``rank`` choose, mark the chosen claimed (one write transaction where there were
        two: a batch takes the writers' lock once, and reads the campaign's status in it)."""
        params = {"campaign": query.campaign_id, "now": to_db(query.now), "today": query.today.isoformat()}
        due_sql = _due_sql(query, self._consent.calls)
        async with self._db.write() as tx:
            marks = await _sync_marks(tx, query.campaign_id)
            if marks["status"] != CampaignStatus.RUNNING:
                return []
            await self._sync(tx, query.campaign_id, query.now, marks)
            picks = rank([_due_lead(row) for row in await tx.fetchall(due_sql, params)])
            if picks:
                ids = [p.lead_id for p in picks]
                await tx.execute(
                    f"UPDATE campaign_leads SET status = 'claimed', claimed_at = ?, claimed_pbx = ?"
                    f" WHERE campaign_id = ? AND status = 'active' AND lead_id IN ({_marks(len(ids))})",
                    (to_db(query.now), self._settings.pbx.name, query.campaign_id, *ids),
                )
        return picks

    async def update_progress(
        self, campaign_id: int, lead_id: int, decide: Callable[[LeadProgress], ProgressUpdate | None]
    ) -> LeadProgress:
        """In one transaction: read the lead's progress, apply ``decide`` (None: leave it), return the row."""
        async with self._db.write() as tx:
            current = await self._progress(tx, campaign_id, lead_id)
            if current is None:
                raise NotEnrolled(f"campaign {campaign_id}: lead {lead_id} is not enrolled")
            update = decide(current)
            if update is None:
                return current
            await tx.execute(
                "UPDATE campaign_leads SET status = ?, attempts = ?, attempts_today = ?, attempts_day = ?,"
                " next_attempt_at = ?, promised = ?, callback_owner = ?, handoff = NULL, claimed_at = NULL, claimed_pbx = NULL,"
                " last_attempt_id = ?,"
                f" deadline_at = {_DEADLINE},"
                " last_attempt_at = ?, last_outcome = ?, last_reason = ? WHERE campaign_id = ? AND lead_id = ?",
                (
                    update.status.value,
                    update.attempts,
                    update.attempts_today,
                    update.attempts_day.isoformat(),
                    to_db_or_none(update.next_attempt_at),
                    int(update.promised),
                    update.callback_owner,
                    update.last_attempt_id,
                    to_db(update.last_attempt_at),
                    update.last_outcome.value,
                    update.last_reason.value,
                    campaign_id,
                    lead_id,
                ),
            )
            changed = await self._progress(tx, campaign_id, lead_id)
            assert changed is not None  # the row was read in this transaction
            return changed

    async def release(self, campaign_id: int, lead_id: int) -> bool:
        """Put a claimed lead back where it was in the queue; False if it was not claimed."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE campaign_leads SET status = 'active', claimed_at = NULL, claimed_pbx = NULL"
                " WHERE campaign_id = ? AND lead_id = ? AND status = 'claimed'",
                (campaign_id, lead_id),
            )
        return changed == 1

    async def claimed(self, campaign_id: int) -> list[LeadProgress]:
        """The campaign's leads claimed by this node's PBX (or before claims named one, migration 0170)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT * FROM campaign_leads WHERE campaign_id = ? AND status = 'claimed'"
                " AND (claimed_pbx IS NULL OR claimed_pbx = ?)",
                (campaign_id, self._settings.pbx.name),
            )
        return [_progress(row) for row in rows]

    async def last_attempt_since(self, campaign_id: int, lead_id: int, since: datetime) -> Attempt | None:
        """The newest attempt of this campaign to this lead created at or after ``since``."""
        async with self._db.read() as r:
            call_id = await r.fetchval(
                "SELECT call_id FROM attempts WHERE lead_id = ? AND campaign_id = ? AND created_at >= ?"
                " ORDER BY created_at DESC, id DESC LIMIT 1",
                (lead_id, campaign_id, to_db(since)),
            )
        return None if call_id is None else await AttemptStore(self._db).get(call_id)

    async def unfiled_talks(self, campaign_id: int | None) -> list[Attempt]:
        """Calls of this campaign (None: of every campaign) an agent talked on whose result never reached the lead's history.

        A runner keeps a finished talk in memory until the agent files it (or the wrap-up times
        out); a runner that was stopped or killed meanwhile leaves such a call without its
        ``contact`` event. The next runner of the campaign on the same PBX writes those (see
        CampaignRunner._prepare); another node's talks are its own agents' to file.
        """
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts a WHERE a.campaign_id = coalesce(?, a.campaign_id) AND a.connected_at IS NOT NULL"
                " AND (a.pbx IS NULL OR a.pbx = ?)"
                " AND a.outcome IS NOT NULL AND a.lead_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lead_events e"
                " WHERE e.lead_id = a.lead_id AND e.kind IN ('contact', 'attempt')"
                f" AND {self._db.dialect.json_int('e.data', 'attempt_id')} = a.id)"
                " ORDER BY a.id",
                (campaign_id, self._settings.pbx.name),
            )
        return [attempt_from_row(row) for row in rows]

    async def _progress(self, r: Reader | Tx, campaign_id: int, lead_id: int) -> LeadProgress | None:
        row = await r.fetchone(
            "SELECT * FROM campaign_leads WHERE campaign_id = ? AND lead_id = ?", (campaign_id, lead_id)
        )
        return None if row is None else _progress(row)

    # -- questions about a lead and a campaign --------------------------------------------------

    async def facts(self, campaign_id: int | None, lead_id: int) -> LeadFacts:
        """What ``why`` needs to know about one lead in one campaign, from one snapshot; ``campaign_id``
        None: outside any campaign (a manual call), without progress."""
        async with self._db.read() as r:
            lead = await r.fetchone("SELECT state, consent FROM leads WHERE id = ?", (lead_id,))
            phones = [
                row[0]
                for row in await r.fetchall("SELECT e164 FROM lead_phones WHERE lead_id = ? ORDER BY rowid", (lead_id,))
            ]
            suppressed = await SuppressionStore(self._db).of_lead(r, lead_id)
            call = await r.fetchval(
                "SELECT call_id FROM attempts WHERE lead_id = ? AND outcome IS NULL LIMIT 1", (lead_id,)
            )
            claimed = await r.fetchall(
                "SELECT campaign_id FROM campaign_leads WHERE lead_id = ? AND status = 'claimed' ORDER BY campaign_id",
                (lead_id,),
            )
            progress = None if campaign_id is None else await self._progress(r, campaign_id, lead_id)
        return LeadFacts(
            lead_id=lead_id,
            exists=lead is not None,
            state=None if lead is None else LeadState(lead["state"]),
            phones=tuple(phones),
            suppressed=tuple(suppressed),
            consent=None if lead is None or lead["consent"] is None else bool(lead["consent"]),
            consent_required=self._consent.calls,
            in_flight_call=call,
            claimed_by=tuple(row[0] for row in claimed),
            progress=progress,
        )

    async def campaigns_of(self, lead_id: int) -> list[int]:
        """Campaigns the lead is enrolled in, oldest first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT campaign_id FROM campaign_leads WHERE lead_id = ? ORDER BY campaign_id", (lead_id,)
            )
        return [row[0] for row in rows]

    async def counts(self, campaign_id: int, since: datetime) -> CampaignCounts:
        """LeadProgress by status, attempts by outcome, connected calls, attempts since ``since``."""
        async with self._db.read() as r:
            statuses = await r.fetchall(
                "SELECT status, COUNT(*) FROM campaign_leads WHERE campaign_id = ? GROUP BY status", (campaign_id,)
            )
            outcomes = await r.fetchall(
                "SELECT outcome, COUNT(*) FROM attempts WHERE campaign_id = ? GROUP BY outcome", (campaign_id,)
            )
            connected = await r.fetchval(
                "SELECT COUNT(*) FROM attempts WHERE campaign_id = ? AND connected_at IS NOT NULL", (campaign_id,)
            )
            recent = await r.fetchval(
                "SELECT COUNT(*) FROM attempts WHERE campaign_id = ? AND created_at >= ?", (campaign_id, to_db(since))
            )
            campaign = await self._get(r, campaign_id)
            # A lead all of whose numbers went on the suppression list after enrolment (an SMS "T"),
            # or without the consent the config requires, is never picked again: not dialable, or
            # its campaign would never complete.
            dialable = await r.fetchval(
                "SELECT COUNT(*) FROM campaign_leads cl JOIN leads l ON l.id = cl.lead_id"
                " WHERE cl.campaign_id = ? AND cl.status = 'active' AND cl.attempts < ?"
                " AND (? = 0 OR l.consent = 1) AND EXISTS (SELECT 1 FROM lead_phones p"
                f" WHERE p.lead_id = l.id AND NOT {SUPPRESSED.format(number='p.e164')})",
                (campaign_id, campaign.definition.max_attempts, int(self._consent.calls)),
            )
        return CampaignCounts(
            by_status={ProgressStatus(row[0]): row[1] for row in statuses},
            by_outcome={None if row[0] is None else Outcome(row[0]): row[1] for row in outcomes},
            connected=int(connected),
            recent_attempts=int(recent),
            dialable=int(dialable),
        )


def _filter_sql(f: LeadFilter, at: datetime, settings: Settings) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) selecting the leads ``f`` describes, as of ``at``."""
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: Sequence[Any]) -> None:
        if values:
            clauses.append(f"{column} IN ({_marks(len(values))})")
            params.extend(getattr(v, "value", v) for v in values)

    any_of("source", f.sources)
    any_of("state", f.states)
    any_of("intent", f.intents)
    any_of("model", f.models)
    any_of("owner", f.owners)
    today = at.astimezone(ZoneInfo(settings.dealer.timezone)).date()
    if f.car_age_min_years is not None:
        clauses.append("purchase_date <= ?")
        params.append((today - timedelta(days=f.car_age_min_years * _DAYS_PER_YEAR)).isoformat())
    if f.car_age_max_years is not None:
        clauses.append("purchase_date >= ?")
        params.append((today - timedelta(days=f.car_age_max_years * _DAYS_PER_YEAR)).isoformat())
    if f.not_contacted_days is not None:
        clauses.append("(last_contact_at IS NULL OR last_contact_at <= ?)")
        params.append(to_db(at - timedelta(days=f.not_contacted_days)))
    return " AND ".join(clauses) or "1 = 1", params
