"""Duplicates and ownership: how imported rows meet each other and the leads already stored.

Pure: given the drafts of one file and the stored leads sharing any of their
numbers, decide what to create, what to fill in, what to report. The rule
(docs/leads-import.md, "Duplicates and ownership"):

1. A phone number identifies a lead. Rows sharing a number (mobile or
   landline) are one lead; a row whose numbers point at two different leads is
   refused rather than guessed.
2. Within a file the first row wins: later rows only fill fields the first
   left empty and add their numbers.
3. Against the store the stored lead wins the same way: the import fills
   empty fields and adds new numbers, and never overwrites what is there
   (an agent's later judgement beats an old spreadsheet). State and source
   are not changed by an import, with one exception: HQ issuing the customer
   again (:func:`reissue`).
4. Ownership belongs to whoever first entered the lead: a row naming a
   different owner does not take the lead over; that is reported, and logged
   once per claimant as an ``ownership_conflict`` lead event. A lead without
   an owner is assigned to the first owner an import names.
5. An opt-out in any row is honoured.

Re-importing a file therefore finds every row unchanged and plans no write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from operator import attrgetter
from typing import Any, NamedTuple

from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.leads.deadlines import DueRules, compute_due
from dialer.domain.leads.model import Lead, LeadEventKind, LeadPhone, LeadSource, LeadState
from dialer.domain.leads.template import Column, LeadDraft, Rejection

# The reason given for a row whose numbers point at two different leads; the
# monthly hygiene report finds merge candidates by it.
AMBIGUOUS = "numbers belong to different leads"

# Draft fields that fill an empty field of the same name on a lead.
FILL_FIELDS: tuple[str, ...] = (
    "model",
    "intent",
    "issued_at",
    "handed_over_at",
    "current_car",
    "purchase_date",
    "callback_at",
    "defeat_reason",
    "consent",
    "note",
)

_FILL_VALUES = attrgetter(*FILL_FIELDS)  # a draft's values of FILL_FIELDS, in one call


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A lead_event row to append."""

    lead_id: int
    kind: LeadEventKind
    at: datetime
    actor: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RowMerge:
    """A row folded into an earlier row of the same file (same number)."""

    row: int
    into_row: int


@dataclass(frozen=True, slots=True)
class RowMatch:
    """A row that matched a stored lead."""

    row: int
    lead_id: int


@dataclass(frozen=True, slots=True)
class OwnershipConflict:
    """A row named a different owner than the lead's first owner; the first owner kept it."""

    row: int
    lead_id: int
    owner: str
    claimant: str
    logged: bool  # a new ownership_conflict event was written (False: this claimant was logged before)


@dataclass(frozen=True, slots=True)
class NameMismatch:
    """Same number, different name: merged by the number, reported for a human to check."""

    row: int
    name: str
    kept_name: str


@dataclass(frozen=True, slots=True)
class LeadChange:
    """A stored lead after the import filled it in."""

    lead: Lead
    fields: tuple[str, ...]
    new_phones: tuple[LeadPhone, ...]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """Everything one import will write, and everything it will report."""

    created: tuple[Lead, ...]
    changed: tuple[LeadChange, ...]
    events: tuple[NewEvent, ...]
    merged_rows: tuple[RowMerge, ...]
    updated_rows: tuple[RowMatch, ...]
    unchanged_rows: tuple[RowMatch, ...]
    conflicts: tuple[OwnershipConflict, ...]
    name_mismatches: tuple[NameMismatch, ...]
    rejections: tuple[Rejection, ...]

    @property
    def writes(self) -> bool:
        """The plan changes the store; False means the import is a no-op."""
        return bool(self.created or self.changed or self.events)


@dataclass(slots=True)
class _Group:
    """The rows of one file that are one lead; ``values`` is the merged first-row-wins view."""

    first: LeadDraft
    rows: list[LeadDraft]
    phones: list[LeadPhone]
    values: dict[str, Any]
    claims: list[tuple[int, str]]  # (row, owner named by that row), in file order
    opt_out: bool
    lead_id: int | None  # the stored lead these rows match; None: a new lead


class _Key(NamedTuple):
    """Which lead a number leads to: a stored one, or the new one a row of this file opened.

    A named tuple: one is looked up per number of every row, and a tuple hashes in C.
    """

    lead_id: int | None = None
    row: int | None = None

    def describe(self) -> str:
        return f"lead #{self.lead_id}" if self.lead_id is not None else f"row {self.row}"


@dataclass(slots=True)
class _Planner:
    """One planning pass over a file: the inputs, and everything decided so far."""

    existing: Mapping[int, Lead]
    claimants: Mapping[int, frozenset[str]]
    rules: DueRules
    now: datetime
    actor: str
    import_id: int
    phone_field: str
    next_id: int
    dealer_id: int
    created: list[Lead] = field(default_factory=list)
    changed: list[LeadChange] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    merged_rows: list[RowMerge] = field(default_factory=list)
    updated_rows: list[RowMatch] = field(default_factory=list)
    unchanged_rows: list[RowMatch] = field(default_factory=list)
    conflicts: list[OwnershipConflict] = field(default_factory=list)
    name_mismatches: list[NameMismatch] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    phone_owner: dict[str, _Key] = field(default_factory=dict)
    logged_claims: set[tuple[int, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.phone_owner = {p.e164: _Key(lead_id=lead.id) for lead in self.existing.values() for p in lead.phones}

    def group(self, drafts: Sequence[LeadDraft]) -> list[_Group]:
        """Sort rows into leads: a stored lead, or a new one opened by its first row.

        Each row is judged alone, in file order: a row whose numbers point at two
        different leads is refused, and does not drag the rows it touches with it.
        """
        groups: dict[_Key, _Group] = {}
        by_phone: dict[str, _Key] = {}
        stored = self.phone_owner
        for draft in drafts:
            keys: list[_Key] = []
            for p in draft.phones:
                key = stored.get(p.e164) or by_phone.get(p.e164)
                if key is not None and key not in keys:
                    keys.append(key)
            if len(keys) > 1:
                self.reject(draft, f"{AMBIGUOUS}: {', '.join(k.describe() for k in keys)}")
                continue
            key = keys[0] if keys else _Key(row=draft.row)
            if key in groups:
                self.fold(groups[key], draft)
            else:
                values = dict(zip(FILL_FIELDS, _FILL_VALUES(draft), strict=True))
                claims = [(draft.row, draft.owner)] if draft.owner else []
                groups[key] = _Group(
                    draft, [draft], list(draft.phones), values, claims, bool(draft.opt_out), key.lead_id
                )
            for p in draft.phones:
                by_phone[p.e164] = key
        return list(groups.values())

    def fold(self, g: _Group, draft: LeadDraft) -> None:
        g.rows.append(draft)
        self.merged_rows.append(RowMerge(draft.row, g.first.row))
        g.phones.extend(p for p in draft.phones if p not in g.phones)
        for name in FILL_FIELDS:
            if g.values[name] is None:
                g.values[name] = getattr(draft, name)
        if draft.name != g.first.name:
            self.name_mismatches.append(NameMismatch(draft.row, draft.name, g.first.name))
        if draft.owner:
            g.claims.append((draft.row, draft.owner))
        g.opt_out = g.opt_out or bool(draft.opt_out)

    def reject(self, draft: LeadDraft, reason: str) -> None:
        value = " ".join(p.e164 for p in draft.phones)
        self.rejections.append(Rejection(draft.row, self.phone_field, value, reason, Column.MOBILE.value))

    def place(self, g: _Group) -> None:
        if g.lead_id is None:
            self.create(g)
        else:
            self.fill(self.existing[g.lead_id], g)

    def create(self, g: _Group) -> None:
        owner = g.claims[0][1] if g.claims else None
        lead = Lead(
            id=self.next_id,
            name=g.first.name,
            source=g.first.source,
            state=LeadState.NEW,
            phones=tuple(g.phones),
            created_at=self.now,
            created_by=self.actor,
            updated_at=self.now,
            dealer_id=self.dealer_id,
            owner=owner,
            owned_at=self.now if owner else None,
            opt_out_at=self.now if g.opt_out else None,
            **g.values,
        )
        if (due := compute_due(lead, self.rules, self.now)) is not None:
            # Its deadline is filled in place, as a frozen dataclass's __post_init__ would: nothing but this
            # planner holds the lead yet, and building it again cost 4 us a lead (dataclasses.replace: 8 us).
            object.__setattr__(lead, "due_at", due.at)
            object.__setattr__(lead, "due_kind", due.kind.value)
        self.next_id += 1
        self.created.append(lead)
        data: dict[str, Any] = {
            "import_id": self.import_id,
            "row": g.first.row,
            "source": lead.source.value,
            "owner": owner,
        }
        if lead.defeat_reason is not None:
            data["defeat_reason"] = lead.defeat_reason  # why the showroom lost it, kept for the monthly analysis
        if lead.handed_over_at is not None:
            data["handed_over_at"] = (
                lead.handed_over_at.isoformat()
            )  # the first hand-over: later ones overwrite the lead's
        if g.first.portal is not None:
            data["portal"] = g.first.portal  # which car portal a web lead came from: leads per portal (docs/kpi.md)
        if len(g.rows) > 1:
            data["merged_rows"] = [d.row for d in g.rows[1:]]
        self.event(lead.id, LeadEventKind.CREATED, data)
        self.contest(lead.id, owner, g.claims)

    def fill(self, lead: Lead, g: _Group) -> None:
        row = g.first.row
        events_before = len(self.events)
        updates = {
            name: g.values[name] for name in FILL_FIELDS if getattr(lead, name) is None and g.values[name] is not None
        }
        known = {p.e164 for p in lead.phones}
        new_phones = tuple(p for p in g.phones if p.e164 not in known)
        if g.first.name != lead.name:
            self.name_mismatches.append(NameMismatch(row, g.first.name, lead.name))
        owner = lead.owner
        if owner is None and g.claims:
            claim_row, owner = g.claims[0]
            updates.update(owner=owner, owned_at=self.now)
            self.event(lead.id, LeadEventKind.ASSIGNED, {"import_id": self.import_id, "row": claim_row, "owner": owner})
        self.contest(lead.id, owner, g.claims)
        again = reissue(lead, g.first.source, g.values["issued_at"]) or {}
        if again:
            updates.update(again)
            self.event(lead.id, LeadEventKind.REISSUED, {
                "import_id": self.import_id, "row": row, "issued_at": _json(again["issued_at"]),
                "from_issued_at": _json(lead.issued_at or lead.created_at), "from_source": lead.source.value,
                "from_state": lead.state.value,
            })  # fmt: skip
            if "state" in again:
                self.event(lead.id, LeadEventKind.STATE, {"from": lead.state.value, "to": again["state"].value,
                                                          "reason": "reissued by HQ"})  # fmt: skip
        if g.opt_out and lead.opt_out_at is None:
            updates["opt_out_at"] = self.now
            self.event(lead.id, LeadEventKind.OPT_OUT, {"import_id": self.import_id, "row": row})
        if not updates and not new_phones:
            (self.updated_rows if len(self.events) > events_before else self.unchanged_rows).append(
                RowMatch(row, lead.id)
            )
            return
        self.updated_rows.append(RowMatch(row, lead.id))
        filled = {k: v for k, v in updates.items() if k in FILL_FIELDS and k not in again}
        if filled or new_phones:
            self.event(
                lead.id,
                LeadEventKind.UPDATED,
                {
                    "import_id": self.import_id,
                    "row": row,
                    "fields": {k: _json(v) for k, v in filled.items()},
                    "phones_added": [p.e164 for p in new_phones],
                },
            )
        updated = dataclasses.replace(lead, phones=lead.phones + new_phones, updated_at=self.now, **updates)
        self.changed.append(LeadChange(_with_due(updated, self.rules, self.now), tuple(updates), new_phones))

    def contest(self, lead_id: int, owner: str | None, claims: Sequence[tuple[int, str]]) -> None:
        """Report every claim by someone other than the owner; log each claimant once per lead."""
        logged_before = self.claimants.get(lead_id, frozenset())
        for row, claimant in claims:
            if owner is None or claimant == owner:
                continue
            logged = claimant not in logged_before and (lead_id, claimant) not in self.logged_claims
            self.conflicts.append(OwnershipConflict(row, lead_id, owner, claimant, logged))
            if logged:
                self.logged_claims.add((lead_id, claimant))
                data = {"import_id": self.import_id, "row": row, "owner": owner, "claimant": claimant}
                self.event(lead_id, LeadEventKind.OWNERSHIP_CONFLICT, data)

    def event(self, lead_id: int, kind: LeadEventKind, data: Mapping[str, Any]) -> None:
        self.events.append(NewEvent(lead_id, kind, self.now, self.actor, data))

    def plan(self) -> ImportPlan:
        return ImportPlan(
            created=tuple(self.created),
            changed=tuple(self.changed),
            events=tuple(self.events),
            merged_rows=tuple(self.merged_rows),
            updated_rows=tuple(self.updated_rows),
            unchanged_rows=tuple(self.unchanged_rows),
            conflicts=tuple(self.conflicts),
            name_mismatches=tuple(self.name_mismatches),
            rejections=tuple(sorted(self.rejections, key=lambda r: r.row)),
        )


def plan_import(
    drafts: Sequence[LeadDraft],
    existing: Mapping[int, Lead],
    claimants: Mapping[int, frozenset[str]],
    *,
    rules: DueRules,
    now: datetime,
    actor: str,
    import_id: int,
    next_id: int,
    phone_field: str,
    dealer_id: int = MAIN_DEALER_ID,
) -> ImportPlan:
    """Decide what importing ``drafts`` does.

    ``existing`` holds (by id) the stored leads sharing a number with any draft; ``claimants``
    holds, per lead, the owners whose conflicting claims were already logged;
    new leads get ids from ``next_id`` on and are ``dealer_id``'s (``existing`` is that dealer's too);
    ``phone_field`` names the phone column(s) in rejections.
    """
    planner = _Planner(existing, claimants, rules, now, actor, import_id, phone_field, next_id, dealer_id)
    for g in planner.group(drafts):
        planner.place(g)
    return planner.plan()


def reissue(lead: Lead, source: LeadSource, issued_at: datetime | None) -> dict[str, Any] | None:
    """What HQ issuing ``lead`` again changes, or None when the row is no re-issue.

    A row of an HQ file whose issue time is later than the lead's clock (its issue time, else its
    creation) is HQ handing the customer to the dealer again, a new prospect (the handbook's HQ
    leads, 48 hours to the first follow-up): the lead becomes HQ's with that issue time, and a lead
    lost (defeated) is open again (new). Re-importing the same file changes nothing (same time). A
    lead that ended in a deal or was found invalid stays as it is: those are final.
    """
    if source is not LeadSource.HQ or issued_at is None or issued_at <= (lead.issued_at or lead.created_at):
        return None
    if lead.state in (LeadState.DEAL, LeadState.INVALID):
        return None
    changes: dict[str, Any] = {"source": LeadSource.HQ, "issued_at": issued_at}
    if lead.state is LeadState.DEFEATED:
        changes["state"] = LeadState.NEW
    return changes


def _with_due(lead: Lead, rules: DueRules, now: datetime) -> Lead:
    due = compute_due(lead, rules, now)
    return dataclasses.replace(lead, due_at=due.at if due else None, due_kind=due.kind.value if due else None)


def _json(value: Any) -> Any:
    """Lead field values as JSON for event data."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
