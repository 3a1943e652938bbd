"""The access matrix for recordings, listen-in and QA (docs/recording.md, "Access").

Pure on purpose: no I/O, no framework. The web console calls :func:`can` on every route
and the CLI before acting, so the rule is written once and tested as a table.

The handbook's intent: recordings serve quality review, complaint evidence and workload
analysis, so supervisors and QA reviewers hear everything; an agent hears only their own
calls (for self-review), never a colleague's; a sales manager hears recordings (complaints
about leads they handed over) but cannot take copies; an administrator runs the system
(deletion, with an audit trail) but does not listen to customers. Anything not in the
matrix is refused: a new action is closed until someone opens it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The people who use the console (DOMAIN.md "Who works there", plus QA and IT)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QA = "qa"
    SALES_MANAGER = "sales_manager"
    ADMIN = "admin"


class Action(StrEnum):
    """Everything the policy can be asked about; the web routes map one-to-one onto these."""

    RECORDING_SEARCH = "recording.search"
    RECORDING_PLAY = "recording.play"
    RECORDING_DOWNLOAD = "recording.download"
    RECORDING_DELETE = "recording.delete"
    RECORDING_AUDIT_VIEW = "recording.audit.view"
    LISTEN_IN_START = "listen_in.start"
    QA_SCORE = "qa.score"
    QA_REPORT_VIEW = "qa.report.view"
    # The web console's own screens (docs/web.md); the same rule: closed unless a row below opens it.
    DESK_VIEW = "desk.view"  # the agent desk: lead card, scripts, due list
    LEAD_VIEW = "lead.view"  # one lead's card and history
    DISPOSITION_RECORD = "disposition.record"  # the after-call form (DossService.record_disposition)
    MILESTONE_RECORD = "milestone.record"  # a visit (with test drive) or a deal (DossService.record_milestones)
    LEAD_IMPORT = "lead.import"  # upload a CSV/XLSX lead file
    LEAD_REACTIVATE = "lead.reactivate"  # bring a defeated lead back
    LEAD_ASSIGN = "lead.assign"  # assign or transfer leads to an agent (LeadStore.transfer)
    WALLBOARD_VIEW = "wallboard.view"
    KPI_REPORT_VIEW = "kpi.report.view"
    KPI_TARGET_SET = "kpi.target.set"  # the month's KPI targets the wallboard and the KPI report measure against
    USER_LIST = "user.list"
    PHONE_MANAGE = "phone.manage"  # the phones' SIP accounts: add, new password, remove (PhoneService)
    CAMPAIGN_VIEW = "campaign.view"  # the campaigns, their status and funnel
    CAMPAIGN_MANAGE = "campaign.manage"  # create, start, pause, resume, stop (CampaignService)
    DNC_VIEW = "dnc.view"  # the suppression list (勿扰名单): search it
    DNC_MANAGE = "dnc.manage"  # put a number on it, take one off (with a reason)
    PROMOTION_MANAGE = "promotion.manage"  # the dealer's promotions and events the desk shows
    AUDIT_VIEW = "audit.view"  # the dealer-wide audit log and whether its chain holds (docs/audit.md)
    CALL_PLACE = "call.place"  # a manual call to a lead from the user's own phone (ManualCalls)
    SMS_SEND = "sms.send"  # one SMS from a template to a lead's customer (SmsService.send_to_lead)
    SMS_WAVE = "sms.wave"  # a repurchase SMS wave to base customers, and the waves' progress
    RECORDING_MAINTAIN = "recording.maintain"  # reconcile and retention status; run reconcile (audited)
    CALL_WINDOW_OVERRIDE = "call.window_override"  # ... outside the calling windows, audited


class Grant(StrEnum):
    """How far a role's permission for an action reaches."""

    ALL = "all"
    OWN = "own"  # only resources that belong to the user's own agent endpoint


@dataclass(frozen=True, slots=True)
class User:
    """Who is asking: a login, a role, and for agents the endpoint their calls are recorded under."""

    name: str
    role: Role
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """What the action is on: whose call it was (None: not tied to one agent, e.g. a whole-team report).

    ``deleted`` marks a recording whose file retention already removed: nothing left to play.
    """

    agent: str | None = None
    deleted: bool = False


class Reason(StrEnum):
    """Why a decision came out as it did: stable codes for logs, tests and the i18n catalog."""

    GRANTED = "granted"
    OWN_RESOURCE = "own_resource"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    NOT_OWN_RESOURCE = "not_own_resource"
    NO_AGENT_IDENTITY = "no_agent_identity"
    RECORDING_DELETED = "recording_deleted"


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The answer to "may this user do this?", with the reason to log or show."""

    allowed: bool
    reason: Reason

    def __bool__(self) -> bool:
        return self.allowed


_A, _OWN = Grant.ALL, Grant.OWN

MATRIX: Mapping[Action, Mapping[Role, Grant]] = {
    Action.RECORDING_SEARCH: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    Action.RECORDING_PLAY: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    Action.RECORDING_DOWNLOAD: {Role.SUPERVISOR: _A, Role.QA: _A},
    Action.RECORDING_DELETE: {Role.ADMIN: _A},
    Action.RECORDING_AUDIT_VIEW: {Role.SUPERVISOR: _A, Role.ADMIN: _A},
    Action.LISTEN_IN_START: {Role.SUPERVISOR: _A, Role.QA: _A},
    Action.QA_SCORE: {Role.SUPERVISOR: _A, Role.QA: _A},
    Action.QA_REPORT_VIEW: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    # An agent works the leads they own; the supervisor covers for anyone (absence, hand-over).
    Action.DESK_VIEW: {Role.AGENT: _OWN, Role.SUPERVISOR: _A},
    Action.LEAD_VIEW: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    Action.DISPOSITION_RECORD: {Role.AGENT: _OWN, Role.SUPERVISOR: _A},
    # The showroom's news: the agent who invited the customer hears it first (own leads), the supervisor
    # covers, and the sales manager runs the showroom where visits and deals happen.
    Action.MILESTONE_RECORD: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.SALES_MANAGER: _A},
    # The handbook: the sales manager hands leads over and re-activates defeated ones; the supervisor assigns.
    Action.LEAD_IMPORT: {Role.SALES_MANAGER: _A, Role.SUPERVISOR: _A},
    Action.LEAD_REACTIVATE: {Role.SALES_MANAGER: _A, Role.SUPERVISOR: _A},
    Action.LEAD_ASSIGN: {Role.SALES_MANAGER: _A, Role.SUPERVISOR: _A},
    Action.WALLBOARD_VIEW: {Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    Action.KPI_REPORT_VIEW: {Role.SUPERVISOR: _A, Role.QA: _A, Role.SALES_MANAGER: _A},
    # The sales manager answers for the showroom's month and sets what the DCC aims at.
    Action.KPI_TARGET_SET: {Role.SALES_MANAGER: _A},
    Action.USER_LIST: {Role.ADMIN: _A},
    # The IT person who sets the phones up; a password opens a line to the carrier, so nobody else.
    Action.PHONE_MANAGE: {Role.ADMIN: _A},
    # The supervisor runs the outbound work; the sales manager, who hands the leads over, watches it.
    Action.CAMPAIGN_VIEW: {Role.SUPERVISOR: _A, Role.SALES_MANAGER: _A},
    Action.CAMPAIGN_MANAGE: {Role.SUPERVISOR: _A},
    # The supervisor keeps the suppression list (complaints reach them); the sales manager, who hands
    # leads over, hears "stop calling me" in the showroom. Agents file 勿扰 on the call itself.
    Action.DNC_VIEW: {Role.SUPERVISOR: _A, Role.SALES_MANAGER: _A},
    Action.DNC_MANAGE: {Role.SUPERVISOR: _A, Role.SALES_MANAGER: _A},
    # The sales side sets offers and events; the DCC's supervisor briefs the agents on them. Agents
    # see today's on the desk (DESK_VIEW).
    Action.PROMOTION_MANAGE: {Role.SALES_MANAGER: _A, Role.SUPERVISOR: _A},
    # Who did what: read by the people who answer for the call center (the supervisor) and for the
    # system (the administrator), as the listen-in audit is. QA and the sales manager are among
    # those audited (plays, exports) and run no people or logins, so they do not read it.
    Action.AUDIT_VIEW: {Role.SUPERVISOR: _A, Role.ADMIN: _A},
    # An agent calls the leads they work; the supervisor any lead, and only the supervisor may call
    # outside the calling windows (a customer who asked to be called at 21:00), on the record.
    Action.CALL_PLACE: {Role.AGENT: _OWN, Role.SUPERVISOR: _A},
    Action.CALL_WINDOW_OVERRIDE: {Role.SUPERVISOR: _A},
    # The agent texts the customers they work (a visit's details, a reminder); the supervisor covers,
    # and the sales manager hands leads over and hears from customers in the showroom.
    Action.SMS_SEND: {Role.AGENT: _OWN, Role.SUPERVISOR: _A, Role.SALES_MANAGER: _A},
    # Repurchase waves go to the dealer's base customers: the sales side's marketing, not the DCC's.
    Action.SMS_WAVE: {Role.SALES_MANAGER: _A},
    # Rows and files of the recordings: the administrator runs the system, the supervisor answers for
    # the evidence. Neither hears a recording through this (file names and counts only).
    Action.RECORDING_MAINTAIN: {Role.ADMIN: _A, Role.SUPERVISOR: _A},
}
"""Action -> role -> grant; a role missing from an action's row is refused. docs/recording.md prints this table."""

# Actions that need the recording's file: pointless once retention deleted it.
_NEEDS_FILE = frozenset({Action.RECORDING_PLAY, Action.RECORDING_DOWNLOAD, Action.RECORDING_DELETE})


def can(user: User, action: Action, resource: Resource | None = None) -> AccessDecision:
    """May ``user`` do ``action`` on ``resource``? Refused unless the matrix grants it."""
    resource = resource or Resource()
    grant = MATRIX.get(action, {}).get(user.role)
    if grant is None:
        return AccessDecision(False, Reason.ROLE_NOT_ALLOWED)
    if grant is Grant.OWN:
        if not user.agent:
            return AccessDecision(False, Reason.NO_AGENT_IDENTITY)
        if resource.agent != user.agent:
            return AccessDecision(False, Reason.NOT_OWN_RESOURCE)
    if action in _NEEDS_FILE and resource.deleted:
        return AccessDecision(False, Reason.RECORDING_DELETED)
    return AccessDecision(True, Reason.OWN_RESOURCE if grant is Grant.OWN else Reason.GRANTED)
