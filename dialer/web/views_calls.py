"""Manual calls from the console: the lead card's and the desk's call buttons, and ``POST /api/calls``.

The user's own phone rings first, then the customer's (:mod:`dialer.campaigns.manual`, which the
running service owns together with the PBX link). An agent calls the leads they work (the same
rule as the lead card: :func:`~dialer.web.views_desk.lead_owner_for`); a supervisor any lead, and
only a supervisor may call outside the calling windows, with a reason that goes into the lead's
history. A refusal names why: 422 for the campaigns' rules (each reason in the user's language),
409 for a busy phone or no free line, 503 for a console without the PBX link.

The call card's hold, transfer and 3-way (``POST /api/calls/{attempt_id}/transfer``,
:mod:`dialer.telephony.transfer`): the agent on the call or a supervisor, to a colleague's phone, the
电话直销员's or the showroom's (:func:`~dialer.web.views_desk.transfer_targets`); each is in the audit log.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dialer.campaigns.manual import ManualCallRefused, ManualCalls
from dialer.domain.access.policy import Action, Resource, can
from dialer.domain.audit.model import AuditAction
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.handovers import HandoverKind
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.leads.errors import LeadNotFound
from dialer.domain.leads.model import Lead
from dialer.i18n import DEFAULT_LANGUAGE
from dialer.leads.service import ManageError
from dialer.telephony.transfer import TARGETED, TransferAction, TransferRefused, Transfers
from dialer.web.dealers import audit_dealer, dealers_of, own_phone
from dialer.web.errors import BadRequest, Forbidden, NotFound, PbxUnavailable, WebError
from dialer.web.forms import json_object, whole_number
from dialer.web.html import policy_user, t
from dialer.web.keys import DIALER, LANG, RUNNERS, console_actor
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import lead_for, lead_owner_for, lead_page, transfer_targets  # the lead card

routes = RouteTable()

# The supervisor's reason for calling outside the windows: the audit's words, kept short.
OVERRIDE_MAX = 200


class CallRefused(WebError):
    """The campaigns' rules forbid this call now; ``reasons`` names each (code and sentence)."""

    status = 422

    def __init__(self, message: str, reasons: list[dict[str, str]]) -> None:
        super().__init__("call_not_allowed", message)
        self.reasons = reasons


class CallConflict(WebError):
    """The phone is on a call, or every outbound line is in use: try again when it is free."""

    status = 409


def _manual(request: web.Request) -> ManualCalls:
    manual = request.app[DIALER].manual_calls
    if manual is None:
        raise PbxUnavailable("no_pbx", "this console runs without the PBX link: start it with `dialer web`")
    return manual


async def _check_lead(request: web.Request, lead: Lead) -> None:
    user = policy_user(request)
    assert user is not None
    if not can(user, Action.CALL_PLACE, Resource(agent=await lead_owner_for(request, lead))):
        raise Forbidden("not_own_lead", f"lead {lead.id} belongs to another agent")


def _override(request: web.Request, value: object) -> str | None:
    """The supervisor's reason to call outside the windows; None when not asked for."""
    reason = "" if value is None else str(value).strip()
    if not reason:
        return None
    user = policy_user(request)
    assert user is not None
    if not can(user, Action.CALL_WINDOW_OVERRIDE):
        raise Forbidden("override_not_allowed", "only a supervisor may call outside the calling windows")
    if len(reason) > OVERRIDE_MAX:
        raise BadRequest({"window_override": f"at most {OVERRIDE_MAX} characters"})
    return reason


def _not_on_a_campaign_call(request: web.Request, agent: str) -> None:
    busy = {AgentState.ON_CALL, AgentState.WRAP_UP}
    if any(s.state in busy for s in request.app[RUNNERS].sessions_of(agent)):
        raise CallConflict("agent_busy", f"{agent} is on a campaign call or its wrap-up")


async def place(request: web.Request, lead: Lead, number: str | None, override: object) -> Attempt:
    """Place the call for the logged-in user; every refusal is a :class:`WebError` naming why."""
    agent = own_phone(request)
    manual = _manual(request)
    reason = _override(request, override)
    _not_on_a_campaign_call(request, agent)
    try:
        return await manual.place(
            lead_id=lead.id, agent=agent, actor=console_actor(request),
            number=number, window_override=reason,
        )  # fmt: skip
    except ManualCallRefused as exc:
        match exc.code:
            case "no_lead":
                raise NotFound("lead_not_found", str(exc)) from None
            case "number":
                raise BadRequest({"number": str(exc)}) from None
            case "not_allowed":
                language = request.get(LANG, DEFAULT_LANGUAGE)
                reasons = [{"reason": b.reason.value, "text": b.text(language)} for b in exc.blockers]
                raise CallRefused("; ".join(r["text"] for r in reasons), reasons) from None
        raise CallConflict(exc.code, str(exc)) from None


def call_json(attempt: Attempt) -> dict[str, Any]:
    """``POST /api/calls``' answer: the attempt as committed before the Originate."""
    return {"attempt": attempt.to_json_dict()}


@routes.route("POST", "/api/calls", Action.CALL_PLACE, "Call a lead: my phone rings first, then the customer's",
              body="application/json", fields=(
                  Param("lead_id", "the lead to call", "integer", required=True),
                  Param("number", "one of the lead's numbers; default its first not on the do-not-call list"),
                  Param("window_override", "supervisors: why to call outside the calling windows (audited)"),
              ))  # fmt: skip
async def api_call(request: web.Request) -> web.StreamResponse:
    """201 with the attempt; 422 ``call_not_allowed`` with ``reasons`` (opted out, do-not-call, window
    closed, in a call); 409 ``agent_busy`` / ``line_limit``; 503 ``no_pbx``."""
    body = await json_object(request)
    lead_id = whole_number(str(body.get("lead_id", "")))
    if lead_id is None:
        raise BadRequest({"lead_id": "expected the lead's id"})
    number = body.get("number")
    if number is not None and not isinstance(number, str):
        raise BadRequest({"number": "expected a phone number as text"})
    try:
        lead = await request.app[DIALER].leads.store.get(lead_id, dealers_of(request))
    except LeadNotFound:
        raise NotFound("lead_not_found", f"lead {lead_id} does not exist") from None
    await _check_lead(request, lead)
    try:
        attempt = await place(request, lead, number, body.get("window_override"))
    except CallRefused as exc:
        return web.json_response({"error": exc.code, "message": exc.message, "reasons": exc.reasons}, status=exc.status)
    return web.json_response(call_json(attempt), status=201)


@routes.route("POST", "/leads/{lead_id:\\d+}/call", Action.CALL_PLACE, "Call this lead from my phone (form)")
async def call_form(request: web.Request) -> web.StreamResponse:
    """Fields ``phone`` (the index of the lead's number, default the first) and, for a supervisor,
    ``window_override``; on success the lead's card, with the call's attempt in the disposition form."""
    lead = await lead_for(request, Action.CALL_PLACE)
    posted = await request.post()
    index = whole_number(str(posted.get("phone") or "0"))
    number = lead.phones[index].e164 if index is not None and index < len(lead.phones) else None
    try:
        if number is None:
            raise BadRequest({"call": "choose one of the lead's numbers"})
        attempt = await place(request, lead, number, posted.get("window_override"))
    except WebError as exc:
        message = exc.message if not isinstance(exc, BadRequest) else "; ".join(exc.fields.values())
        return await lead_page(request, lead, errors={"call": message}, status=exc.status)
    raise web.HTTPSeeOther(f"/leads/{lead.id}?calling={attempt.id}")


def _transfers(request: web.Request) -> Transfers:
    transfers = request.app[DIALER].transfers
    if transfers is None:
        raise PbxUnavailable("no_pbx", "this console runs without the PBX link: start it with `dialer web`")
    return transfers


@routes.route("POST", "/api/calls/{attempt_id:\\d+}/transfer", Action.CALL_PLACE,
              "Hold, resume, transfer (blind or attended) or 3-way of a call in progress",
              body="application/json", fields=(
                  Param("action", "hold | resume | blind | consult | complete | cancel | conference", required=True),
                  Param("target", "blind, consult, conference: a colleague's, the telesales' or the showroom's phone"),
                  Param("hand_over_lead", "blind, complete: also give the call's lead to the receiving agent", "boolean"),
              ))  # fmt: skip
async def api_call_transfer(request: web.Request) -> web.StreamResponse:
    """200 with the call's parties (``party``, ``held``, ``consulting``, ``handed_over``, the ``handover``
    recorded); 400 for an unknown action or target; 403 for another agent's call; 404 for no such call;
    409 ``not_live`` / ``state`` (not now) / ``pbx`` (the PBX refused); 503 ``no_pbx``."""
    transfers = _transfers(request)
    body = await json_object(request)
    try:
        action = TransferAction(str(body.get("action", "")))
    except ValueError:
        raise BadRequest({"action": f"expected one of {', '.join(a.value for a in TransferAction)}"}) from None
    target = None
    if action in TARGETED:
        target = str(body.get("target") or "")
        if target not in {endpoint for endpoint, _ in await transfer_targets(request)}:
            raise BadRequest({"target": f"{target!r} is not a colleague's, the telesales' or the showroom's phone"})
    attempt_id = int(request.match_info["attempt_id"])
    attempt = await request.app[DIALER].attempts.by_id(attempt_id, dealers_of(request))
    if attempt is None:
        raise NotFound("call_not_found", f"call {attempt_id} does not exist")
    user = policy_user(request)
    assert user is not None
    if not can(user, Action.CALL_PLACE, Resource(agent=attempt.agent)):
        raise Forbidden("not_own_call", f"call {attempt_id} is another agent's")
    actor = console_actor(request)
    try:
        state = await transfers.act(attempt.call_id, action, target=target, actor=actor)
    except TransferRefused as exc:
        raise CallConflict(exc.code, str(exc)) from None
    await request.app[DIALER].audit.record(
        actor, AuditAction.CALL_TRANSFER, attempt.call_id, {"action": action.value, "to": target, "attempt": attempt_id},
        dealer_id=audit_dealer(request, request.app[DIALER].dealer.id),  # a call of this node's PBX: its dealer's
    )  # fmt: skip
    answer = state.to_json_dict()
    handed = state.handover is not None and state.handover.kind is not HandoverKind.CONFERENCE
    manual = request.app[DIALER].manual_calls
    if manual is not None and handed and state.handover is not None:
        manual.handed_over(state.handover.from_party)  # free for their next call while this one goes on
    if body.get("hand_over_lead") is True and handed and state.handover and attempt.lead_id is not None:
        answer["lead"] = await _hand_over_lead(request, attempt.lead_id, state.handover.to_party, attempt_id)
    return web.json_response(answer)


async def _hand_over_lead(request: web.Request, lead_id: int, to_party: str, attempt_id: int) -> dict[str, Any]:
    """The customer went to a salesperson: the lead goes too (owner, history, DOSS), as a manager's transfer
    would give it. The call has been handed over whatever this says: a target that is not an agent (the
    showroom's phone) keeps the lead where it was, and the answer says why."""
    reason = t(request, "web.transfer.lead_reason", call=attempt_id)
    try:
        await request.app[DIALER].manager.transfer([lead_id], to_party, console_actor(request), reason)
    except ManageError as exc:
        return {"lead_id": lead_id, "handed_over": False, "message": str(exc)}
    return {"lead_id": lead_id, "handed_over": True, "owner": to_party}
