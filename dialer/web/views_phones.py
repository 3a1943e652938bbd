"""The phones' SIP accounts in the console (#14 item 3): the administrator adds an account, gives it
a new password or removes it; a generated password is shown once, on the answer to that request.

The same :class:`dialer.phones.service.PhoneService` as ``dialer phones``: only the digest secret is
stored, so the page can show a password exactly once (the answer is marked ``no-store``); the list
never shows one. The running PBX learns a change on the next ``dialer pbx render`` and ``pjsip reload``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.audit.model import AuditAction
from dialer.domain.pbx.phones import NewPassword, PhoneAccount, PhoneError, PhoneNotFound
from dialer.web.dealers import audit_dealer, dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.forms import json_object
from dialer.web.html import render, t
from dialer.web.keys import DIALER, SETTINGS, console_actor
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_ENDPOINT = (
    Param("endpoint", "the phone's endpoint: lower-case letters and digits, starting with a letter", required=True),
)
_AUDITED = {"add": AuditAction.PHONE_ADD, "reset": AuditAction.PHONE_RESET, "remove": AuditAction.PHONE_REMOVE}
# A password must not linger in a browser's or a proxy's cache.
_NO_STORE = {"Cache-Control": "no-store"}


def _endpoint(data: Mapping[str, Any]) -> str:
    value = data.get("endpoint")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest({"endpoint": "required"})
    return value.strip()


async def _change(request: web.Request, change: str, endpoint: str) -> NewPassword | None:
    phones = request.app[DIALER].phones
    dealers = dealers_of(request)
    # Whose phone it is, for the audit row: a new one is on this node's PBX, its dealer's.
    existing = None if change == "add" else await phones.account(endpoint)
    target_dealer = request.app[DIALER].dealer.id if existing is None else existing.dealer_id
    try:
        if change == "add":
            # A new account is on this node's PBX: its dealer's.
            if not dealers.allows(request.app[DIALER].dealer.id):
                raise NotFound("phones_not_found", "this node's PBX is another dealer's")
            made: NewPassword | None = await phones.add(endpoint)
        elif change == "reset":
            made = await phones.reset(endpoint, dealers)
        else:
            await phones.remove(endpoint, dealers)
            made = None
    except PhoneNotFound as exc:
        raise NotFound("phone_not_found", str(exc)) from None
    except PhoneError as exc:
        raise BadRequest({"endpoint": str(exc)}) from None
    actor = console_actor(request)
    await request.app[DIALER].audit.record(
        actor, _AUDITED[change], endpoint, dealer_id=audit_dealer(request, target_dealer)
    )
    return made


def _created(made: NewPassword) -> dict[str, str]:
    return {"endpoint": made.account.endpoint, "username": made.account.username, "password": made.password}


@routes.route("GET", "/api/phones", Action.PHONE_MANAGE, "The phones' SIP accounts (never a password)")
async def api_phones(request: web.Request) -> web.StreamResponse:
    """Endpoint, user name and when the password was set, per account."""
    accounts = await request.app[DIALER].phones.accounts(dealers_of(request))
    return web.json_response({"phones": [
        {"endpoint": a.endpoint, "username": a.username, "password_set_at": _set_at(a)} for a in accounts
    ]})  # fmt: skip


def _set_at(account: PhoneAccount) -> str | None:
    at = account.changed_at or account.created_at
    return None if at is None else at.isoformat()


@routes.route("POST", "/api/phones", Action.PHONE_MANAGE, "Add a phone account; its password is in this answer only",
              body="application/json", fields=_ENDPOINT)  # fmt: skip
async def api_phone_add(request: web.Request) -> web.StreamResponse:
    """201 with ``endpoint``, ``username`` and the generated ``password`` (shown once); 400 naming the field."""
    made = await _change(request, "add", _endpoint(await json_object(request)))
    assert made is not None
    return web.json_response(_created(made), status=201, headers=_NO_STORE)


@routes.route("POST", "/api/phones/{endpoint}/reset", Action.PHONE_MANAGE,
              "A new generated password for a phone, in this answer only")  # fmt: skip
async def api_phone_reset(request: web.Request) -> web.StreamResponse:
    """200 with the new password; 404 for an unknown endpoint."""
    made = await _change(request, "reset", request.match_info["endpoint"])
    assert made is not None
    return web.json_response(_created(made), headers=_NO_STORE)


@routes.route("POST", "/api/phones/{endpoint}/remove", Action.PHONE_MANAGE, "Remove a phone account")
async def api_phone_remove(request: web.Request) -> web.StreamResponse:
    """200; 404 for an unknown endpoint."""
    endpoint = request.match_info["endpoint"]
    await _change(request, "remove", endpoint)
    return web.json_response({"endpoint": endpoint, "removed": True})


@routes.route("GET", "/phones", Action.PHONE_MANAGE, "The phones' SIP accounts page")
async def phones_page(request: web.Request) -> web.StreamResponse:
    """The accounts and the add form."""
    return await _page(request)


@routes.route("POST", "/phones", Action.PHONE_MANAGE, "Add, reset or remove a phone account (form)")
async def phones_post(request: web.Request) -> web.StreamResponse:
    """The change, then the page with the new password shown this once (or the error next to the field)."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    change = form.get("change", "")
    if change not in ("add", "reset", "remove"):
        return await _page(request, errors={"change": f"{change!r} is not add, reset or remove"}, status=400)
    try:
        made = await _change(request, change, _endpoint(form))
    except BadRequest as exc:
        return await _page(request, errors=exc.fields, typed=form.get("endpoint", ""), status=400)
    except NotFound as exc:
        return await _page(request, errors={"endpoint": exc.message}, status=404)
    notice = t(request, f"cli.phones.{change}", endpoint=form["endpoint"].strip())
    return await _page(request, made=made, notice=notice)


async def _page(
    request: web.Request, *, made: NewPassword | None = None, notice: str = "", errors: Mapping[str, str] | None = None,
    typed: str = "", status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)

    def when(a: Any) -> str:
        at = a.changed_at or a.created_at
        return "" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    rows = [{"endpoint": a.endpoint, "username": a.username, "set_at": when(a)}
            for a in await request.app[DIALER].phones.accounts(dealers_of(request))]  # fmt: skip
    response = render(
        request, "phones.html", t(request, "web.phones.title"), status=status, rows=rows, made=made, notice=notice,
        errors=dict(errors or {}), typed=typed,
    )  # fmt: skip
    if made is not None:
        response.headers.update(_NO_STORE)
    return response
