"""The leads service: what the faces (CLI, web) ask of leads, wired from config, store and clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.access.policy import Role
from dialer.domain.auth.owners import OwnerAlias, OwnerDirectory, check_alias
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.errors import LeadError
from dialer.domain.leads.hygiene import HygieneReport, build_report, month_bounds, months_back
from dialer.domain.leads.model import Lead, LeadState
from dialer.domain.leads.records import LeadPage, LeadQuery, OwnershipCount, Transfer, VisitBoard
from dialer.doss.service import DossService
from dialer.leads.doss_states import StatesReport, import_states
from dialer.leads.importer import LeadImporter
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.leads import LeadStore
from dialer.store.users import UserStore

log = get_logger(__name__)

# A transfer's reason is read on the lead card and in DOSS's note column: one sentence, not an essay.
REASON_MAX_CHARS = 200
# Leads per manager decision: a day's hand-over fits easily; a runaway script does not hold the writer for long.
BATCH_MAX_LEADS = 1000
# The desk shows the visits customers called off (SMS "不需要") this many days back.
CANCELLED_SHOWN_DAYS = 2


class DueScope(StrEnum):
    """Which deadlines ``due`` lists."""

    OVERDUE = "overdue"  # already past
    TODAY = "today"  # by the end of the dealer's local day (the default work list)
    ALL = "all"  # every scheduled deadline


@dataclass(frozen=True, slots=True)
class DueItem:
    """A lead on the due list, and whether its deadline has passed."""

    lead: Lead
    overdue: bool


class ManageError(LeadError):
    """A manager's request names something unusable: ``field`` and ``value`` say what, the message why."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OwnerSummary:
    """One owner's leads (owner None: nobody's) by state, and how many are overdue."""

    owner: str | None
    by_state: Mapping[LeadState, int]
    overdue: int

    @property
    def total(self) -> int:
        """All of the owner's leads, whatever their state."""
        return sum(self.by_state.values())


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who holds which leads: the sales manager's view of the hand-over."""

    owners: tuple[OwnerSummary, ...]  # owners by name
    unassigned: OwnerSummary  # leads nobody owns yet


def summarize_ownership(counts: Sequence[OwnershipCount]) -> Ownership:
    """Fold the store's (owner, state) counts into one summary per owner."""
    states: dict[str | None, dict[LeadState, int]] = {}
    overdue: dict[str | None, int] = {}
    for c in counts:
        states.setdefault(c.owner, {})[c.state] = c.leads
        overdue[c.owner] = overdue.get(c.owner, 0) + c.overdue
    owners = tuple(OwnerSummary(o, states[o], overdue[o]) for o in sorted(o for o in states if o is not None))
    return Ownership(owners, OwnerSummary(None, states.get(None, {}), overdue.get(None, 0)))


@dataclass(frozen=True, slots=True)
class OwnerNames:
    """The manager's owner list: the aliases, and the owner names on leads that no agent goes by."""

    aliases: tuple[OwnerAlias, ...]
    unknown: tuple[tuple[str, int], ...]  # (name, leads filed under it), by name


@dataclass(frozen=True, slots=True)
class Reactivation:
    """One defeated lead brought back, and its transfer when the manager also re-assigned it."""

    lead: Lead  # after re-activation (and transfer)
    transfer: Transfer | None


class LeadService:
    """Import, due lists, the monthly hygiene report and the manager's lead views over one store."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        self.tz = ZoneInfo(settings.dealer.timezone)
        self.region = settings.dealer.region
        self.max_unpacked_bytes = settings.leads.import_max_unpacked_mb * 1024 * 1024
        self._settings = settings.leads
        self._clock = clock
        self.store = LeadStore(db, DueRules(settings.leads, self.tz), clock, dealer_id=dealer_id)
        self._users = UserStore(db)
        self.importer = LeadImporter(
            self.store,
            clock,
            region=settings.dealer.region,
            tz=self.tz,
            progress_rows=settings.leads.import_progress_rows,
            max_cell_chars=settings.leads.import_max_cell_chars,
            max_unpacked_mb=settings.leads.import_max_unpacked_mb,
            owners=self.owner_directory,
        )

    async def due(
        self, scope: DueScope = DueScope.TODAY, owner: str | None = None, dealers: DealerScope = EVERY_DEALER
    ) -> list[DueItem]:
        """The due list of the leads ``dealers`` sees, earliest deadline first."""
        now = self._clock.now()
        if scope is DueScope.OVERDUE:
            until: datetime | None = now - timedelta(microseconds=1)
        elif scope is DueScope.TODAY:
            local_today = now.astimezone(self.tz).date()
            until = datetime.combine(local_today + timedelta(days=1), time(), self.tz) - timedelta(microseconds=1)
        else:
            until = None
        await self.store.refresh_due()
        leads = await self.store.due(until, owner=owner, dealers=dealers)
        return [DueItem(lead, lead.due_at is not None and lead.due_at < now) for lead in leads]

    async def visits(self, owner: str | None = None, dealers: DealerScope = EVERY_DEALER) -> VisitBoard:
        """The desk's showroom list: invited customers expected today or tomorrow (dealer days), and the visits
        customers called off in the last :data:`CANCELLED_SHOWN_DAYS` days; only ``owner``'s leads when given."""
        now = self._clock.now()
        today = datetime.combine(now.astimezone(self.tz).date(), time(), self.tz)
        end = datetime.combine(today.date() + timedelta(days=2), time(), self.tz)
        return await self.store.visit_board(today, end, now - timedelta(days=CANCELLED_SHOWN_DAYS), owner, dealers)

    async def hygiene(self, month: str, dealers: DealerScope = EVERY_DEALER) -> HygieneReport:
        """The clean-up report for ``YYYY-MM`` (dealer local months) of the dealers ``dealers`` sees."""
        start, end = month_bounds(month, self.tz)
        trend_start, _ = month_bounds(months_back(month, self._settings.hygiene_trend_months)[0], self.tz)
        facts = await self.store.hygiene_facts(start, end, trend_start, dealers)
        return build_report(month, self.tz, facts, self._settings.hygiene_trend_months)

    async def agents(self, dealers: DealerScope = EVERY_DEALER) -> list[str]:
        """The agent identities leads can be given to: enabled users with the agent role (``dealers``')."""
        return sorted((await self.owner_directory(dealers)).agents)

    async def owner_directory(self, dealers: DealerScope = EVERY_DEALER) -> OwnerDirectory:
        """Every name an owner goes by (an agent's login, identity, the manager's aliases) to their identity."""
        return await self._users.owner_directory(dealers)

    async def search(self, query: LeadQuery, dealers: DealerScope = EVERY_DEALER) -> LeadPage:
        """The manager's lead list: filtered, one page, earliest deadline first; the leads ``dealers`` sees."""
        return await self.store.search(query, self._clock.now(), dealers)

    async def ownership(self, owner: str | None = None, dealers: DealerScope = EVERY_DEALER) -> Ownership:
        """Leads per owner by state and overdue; only ``owner``'s when given (an agent's own view); ``dealers``'."""
        return summarize_ownership(await self.store.ownership(self._clock.now(), owner=owner, dealers=dealers))


class LeadManager:
    """The sales manager's decisions: transfer leads, re-activate defeated ones, in one transaction each.

    Validation lives here so the console and the CLI refuse the same things with the
    same words; the writes go through ``DossService.record_transfer`` because a
    transfer changes the owner DOSS's import sheet carries.
    """

    def __init__(self, db: Database, leads: LeadService, doss: DossService, clock: Clock) -> None:
        self._db = db
        self._users = UserStore(db)
        self._clock = clock
        self._leads = leads
        self._doss = doss

    async def transfer(
        self, lead_ids: Sequence[int], to_owner: str, actor: str, reason: str, dealers: DealerScope = EVERY_DEALER
    ) -> list[Transfer]:
        """Give the leads to agent ``to_owner``; :class:`ManageError` names a bad field, nothing written;
        :class:`LeadNotFound` for a lead that does not exist or ``dealers`` does not see."""
        ids = _check_ids(lead_ids)
        await self._visible(ids, dealers)
        text = _check_reason(reason)
        agent = await self._check_agent(to_owner, dealers)
        return await self._doss.record_transfer(ids, agent, actor, text)

    async def reactivate(
        self,
        lead_ids: Sequence[int],
        actor: str,
        reason: str,
        to_owner: str | None = None,
        dealers: DealerScope = EVERY_DEALER,
    ) -> list[Reactivation]:
        """Bring defeated leads back (and give them to ``to_owner``), all or none.

        A lead that is not defeated refuses the batch: a second click on the same
        selection must not pass silently as if it had re-activated something.
        """
        ids = _check_ids(lead_ids)
        await self._visible(ids, dealers)
        text = _check_reason(reason)
        agent = None if to_owner is None else await self._check_agent(to_owner, dealers)
        async with self._db.write():
            back = await self._doss.record_reactivation(ids, actor, text)
            if agent is None:
                done = [Reactivation(lead, None) for lead in back]
            else:
                transfers = await self._doss.record_transfer(ids, agent, actor, text)
                done = [Reactivation(t.lead, t) for t in transfers]
        log.info("leads.reactivated", leads=ids, to_owner=to_owner, actor=actor)
        return done

    async def import_doss_states(self, path: Path, actor: str) -> StatesReport:
        """Take the visits and deals of a DOSS export back into the leads (``dialer doss import-states``);
        idempotent. :class:`ImportFileError` when the file cannot be read or lacks the phone or state column."""
        return await import_states(
            path, actor, leads=self._leads.store, doss=self._doss, region=self._leads.region, tz=self._leads.tz,
            max_unpacked_bytes=self._leads.max_unpacked_bytes,
        )  # fmt: skip

    async def _visible(self, ids: Sequence[int], dealers: DealerScope) -> None:
        """:class:`LeadNotFound` for the first lead ``dealers`` does not see (as for one that does not exist)."""
        if dealers.dealer_id is not None:
            for lead_id in ids:
                await self._leads.store.get(lead_id, dealers)

    async def _check_agent(self, to_owner: str, dealers: DealerScope = EVERY_DEALER) -> str:
        """The identity ``to_owner`` (an agent's identity, login or alias) is filed under."""
        agent = (await self._leads.owner_directory(dealers)).resolve(to_owner)
        if agent is None:
            raise ManageError(
                "to_owner", to_owner, "not an enabled user with the agent role (login, identity or alias)"
            )
        return agent

    # -- owner aliases: the names lead files use for a user -------------------------------------------

    async def owner_names(self, dealers: DealerScope = EVERY_DEALER) -> OwnerNames:
        """The aliases and the owner names on leads that resolve to nobody (the import reported them), of the
        dealers ``dealers`` sees."""
        directory = await self._leads.owner_directory(dealers)
        on_leads = await self._leads.store.owners(dealers)
        unknown = tuple((name, n) for name, n in on_leads.items() if name not in directory.agents)
        return OwnerNames(tuple(await self._users.aliases(dealers)), unknown)

    async def add_alias(self, alias: str, user: str, actor: str, dealers: DealerScope = EVERY_DEALER) -> int:
        """Map the name ``alias`` to the agent ``user`` (login or identity; one of the dealers ``dealers``
        sees) and file the leads of the user's dealer already owned under that name under the user's
        identity; returns how many leads moved."""
        try:
            name = check_alias(alias)
        except ValueError as exc:
            raise ManageError("alias", alias, str(exc)) from None
        target = await self._users.by_name(user) or await self._users.by_agent(user)
        if (
            target is None
            or target.role is not Role.AGENT
            or not target.agent
            or target.disabled_at is not None
            or target.dealer_id is None
            or not dealers.allows(target.dealer_id)  # another dealer's agent: as if there were none
        ):
            raise ManageError("user", user, "not an enabled user with the agent role")
        taken = await self._users.by_name(name) or await self._users.by_agent(name)
        if taken is not None and taken.id != target.id:
            raise ManageError("alias", name, f"is the login or identity of {taken.name}, not an alias")
        at = self._clock.now()
        await self._users.add_alias(name, target.id, at, actor)
        moved = (
            0
            if name == target.agent
            else await self._leads.store.rename_owner(name, target.agent, at, actor, "alias", target.dealer_id)
        )
        log.info("leads.alias_added", alias=name, user=target.name, leads_moved=moved, actor=actor)
        return moved

    async def remove_alias(self, alias: str, actor: str, dealers: DealerScope = EVERY_DEALER) -> None:
        """Forget the alias (one of a user of the dealers ``dealers`` sees; leads already filed under the
        user stay theirs)."""
        mine = alias.strip() in {a.alias for a in await self._users.aliases(dealers)}
        if not mine or not await self._users.remove_alias(alias.strip()):
            raise ManageError("alias", alias, "no such alias")
        log.info("leads.alias_removed", alias=alias.strip(), actor=actor)


def _check_ids(lead_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(lead_ids))
    if not ids:
        raise ManageError("lead_ids", [], "select at least one lead")
    if len(ids) > BATCH_MAX_LEADS:
        raise ManageError("lead_ids", len(ids), f"at most {BATCH_MAX_LEADS} leads at once")
    return ids


def _check_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise ManageError("reason", reason, "a reason is required")
    if len(text) > REASON_MAX_CHARS:
        raise ManageError("reason", text[:20] + "…", f"at most {REASON_MAX_CHARS} characters")
    return text
