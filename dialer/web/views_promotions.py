"""The dealer's promotions and events (#13 item 4): the manager's list, and today's on the desk.

Agents invite "结合当期库存、促销政策、市场活动" (the handbook): the sales manager or the supervisor keeps
the list here; the desk and the lead card show what runs today (:func:`running_cards`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.promotions.model import NewPromotion, Promotion, PromotionError, PromotionKind
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.forms import json_object, whole_number
from dialer.web.html import render, t
from dialer.web.keys import DIALER, console_actor
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

_FIELDS = (
    Param("kind", "offer (促销政策) or event (市场活动)", required=True),
    Param("title", "what agents read first (1-80 characters)", required=True),
    Param("detail", "terms, place, who to invite (at most 1000 characters)"),
    Param("starts_on", "first day, YYYY-MM-DD (dealer's date)", required=True),
    Param("ends_on", "last day, YYYY-MM-DD", required=True),
)


def parse_promotion(data: Mapping[str, Any]) -> NewPromotion:
    """The form or JSON body as a :class:`NewPromotion`; :class:`BadRequest` names every unreadable field."""
    errors: dict[str, str] = {}
    kind = None
    raw_kind = data.get("kind")
    try:
        kind = PromotionKind(raw_kind if isinstance(raw_kind, str) else "")
    except ValueError:
        errors["kind"] = f"{raw_kind!r} is not one of {', '.join(k.value for k in PromotionKind)}"
    texts = {}
    for name in ("title", "detail"):
        value = data.get(name, "")
        if not isinstance(value, str):
            errors[name] = "must be text"
        texts[name] = value if isinstance(value, str) else ""
    days: dict[str, date] = {}
    for name in ("starts_on", "ends_on"):
        value = data.get(name)
        try:
            days[name] = date.fromisoformat(value.strip() if isinstance(value, str) else "")
        except ValueError:
            errors[name] = f"{value!r} is not a date (YYYY-MM-DD)"
    if errors or kind is None:
        raise BadRequest(errors)
    return NewPromotion(kind, texts["title"], texts["detail"], days["starts_on"], days["ends_on"])


def promotion_json(p: Promotion) -> dict[str, Any]:
    """One promotion for the API."""
    return {
        "id": p.id, "kind": p.kind.value, "title": p.title, "detail": p.detail,
        "starts_on": p.starts_on.isoformat(), "ends_on": p.ends_on.isoformat(), "created_by": p.created_by,
        "ended_at": None if p.ended_at is None else p.ended_at.isoformat(),
    }  # fmt: skip


async def running_cards(request: web.Request) -> list[dict[str, str]]:
    """Today's promotions as the desk shows them: kind label, title, detail, last day."""
    return [
        {"kind": t(request, f"web.promotion.kind.{p.kind.value}"), "title": p.title, "detail": p.detail,
         "until": t(request, "web.promotion.until", day=p.ends_on.isoformat())}
        for p in await request.app[DIALER].promotions.running(dealers_of(request))
    ]  # fmt: skip


async def _add(request: web.Request, data: Mapping[str, Any]) -> Promotion:
    try:
        return await request.app[DIALER].promotions.add(
            parse_promotion(data), console_actor(request), dealers_of(request).dealer_id
        )
    except PromotionError as exc:
        raise BadRequest({exc.field: str(exc).removeprefix(f"{exc.field}: ")}) from None


async def _end(request: web.Request) -> Promotion:
    promotion_id = whole_number(request.match_info["promotion_id"])
    if promotion_id is None:
        raise BadRequest({"promotion_id": "not a number"})
    try:
        return await request.app[DIALER].promotions.end(promotion_id, console_actor(request), dealers_of(request))
    except PromotionError as exc:
        raise NotFound("promotion_not_found", str(exc).removeprefix("id: ")) from None


@routes.route(
    "GET", "/api/promotions", Action.PROMOTION_MANAGE, "The promotions list: running, upcoming, recently ended"
)
async def api_promotions(request: web.Request) -> web.StreamResponse:
    """The manager's list as JSON."""
    return web.json_response(
        {"promotions": [promotion_json(p) for p in await request.app[DIALER].promotions.listed(dealers_of(request))]}
    )


@routes.route("POST", "/api/promotions", Action.PROMOTION_MANAGE, "Add a promotion or event",
              body="application/json", fields=_FIELDS)  # fmt: skip
async def api_promotion_add(request: web.Request) -> web.StreamResponse:
    """201 with the stored promotion; 400 naming the field at fault."""
    return web.json_response(promotion_json(await _add(request, await json_object(request))), status=201)


@routes.route("POST", "/api/promotions/{promotion_id:\\d+}/end", Action.PROMOTION_MANAGE,
              "Take a promotion off the desk now")  # fmt: skip
async def api_promotion_end(request: web.Request) -> web.StreamResponse:
    """The promotion, stamped ended; 404 for an unknown one."""
    return web.json_response(promotion_json(await _end(request)))


@routes.route("GET", "/promotions", Action.PROMOTION_MANAGE, "The promotions page")
async def promotions_page(request: web.Request) -> web.StreamResponse:
    """The list and the add form."""
    return await _page(request, {}, {})


@routes.route("POST", "/promotions", Action.PROMOTION_MANAGE, "Add a promotion or event (form)")
async def promotion_add(request: web.Request) -> web.StreamResponse:
    """Add, then the list again; a refused field is shown next to itself with what was typed."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and k != "csrf_token"}
    try:
        await _add(request, form)
    except BadRequest as exc:
        return await _page(request, exc.fields, form, status=400)
    raise web.HTTPSeeOther("/promotions")


@routes.route("POST", "/promotions/{promotion_id:\\d+}/end", Action.PROMOTION_MANAGE, "End a promotion (form)")
async def promotion_end(request: web.Request) -> web.StreamResponse:
    """End it now, then the list again."""
    await _end(request)
    raise web.HTTPSeeOther("/promotions")


async def _page(
    request: web.Request, errors: Mapping[str, str], typed: Mapping[str, str], *, status: int = 200
) -> web.StreamResponse:
    service = request.app[DIALER].promotions
    today = service.today()

    def state(p: Promotion) -> str:
        if p.ended_at is not None or p.ends_on < today:
            return t(request, "web.promotion.state.ended")
        return t(request, "web.promotion.state." + ("running" if p.runs_on(today) else "upcoming"))

    rows = [
        {"id": p.id, "kind": t(request, f"web.promotion.kind.{p.kind.value}"), "title": p.title, "detail": p.detail,
         "days": f"{p.starts_on.isoformat()} ~ {p.ends_on.isoformat()}", "state": state(p), "by": p.created_by,
         "may_end": p.ended_at is None and p.ends_on >= today}
        for p in await service.listed()
    ]  # fmt: skip
    kinds = [(k.value, t(request, f"web.promotion.kind.{k.value}")) for k in PromotionKind]
    return render(
        request, "promotions.html", t(request, "web.promotion.title"), status=status, rows=rows, kinds=kinds,
        errors=dict(errors), typed=dict(typed), today=today.isoformat(),
    )  # fmt: skip
