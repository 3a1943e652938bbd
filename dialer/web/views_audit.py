"""The audit log's page and API: filtered, paged, newest first, with whether the hash chain holds.

Each view walks the whole chain (dialer.audit.service.AuditService.verify), so a deleted or edited row
shows the moment someone looks; docs/audit.md gives what that costs on a large log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.audit.service import ChainReport
from dialer.domain.access.policy import Action
from dialer.domain.audit.model import MAX_TEXT, AuditAction, AuditEntry, AuditQuery
from dialer.web.dealers import dealer_names, dealers_of
from dialer.web.errors import BadRequest
from dialer.web.forms import parse_int
from dialer.web.html import render, t
from dialer.web.keys import DIALER, SETTINGS
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

PAGE_SIZE = 100
# Pages past this are no question anyone asks (a hundred million rows), and keep OFFSET in range.
_MAX_PAGE = 1_000_000

_QUERY = (
    Param("action", "only this action (login, login.failed, export, recording.play, ...)"),
    Param("actor", "only this actor (a login, cli:<os user> or system)"),
    Param("since", "first local day, YYYY-MM-DD"),
    Param("until", "last local day, YYYY-MM-DD"),
    Param("page", "page number, 100 rows a page (default 1)", "integer"),
)


@dataclass(frozen=True, slots=True)
class _Found:
    query: AuditQuery
    page: int
    entries: list[AuditEntry]
    total: int
    chain: ChainReport

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _day(text: str, name: str, tz: ZoneInfo, *, next_day: bool, errors: dict[str, str]) -> datetime | None:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        errors[name] = f"{text[:40]!r} is not a date (YYYY-MM-DD)"
        return None
    try:
        # In UTC, as the store compares: 0001-01-01 in a zone east of UTC is before the first instant.
        return datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tz).astimezone(UTC)
    except OverflowError:  # 9999-12-31: there is no next midnight
        errors[name] = f"{text!r} is outside the dates this search can reach"
        return None


def parse_query(query: Mapping[str, str], tz: ZoneInfo) -> tuple[AuditQuery, int]:
    """The filter of a request's query string and its page number; a 400 names every bad field."""
    errors: dict[str, str] = {}
    action = None
    if query.get("action"):
        try:
            action = AuditAction(query["action"])
        except ValueError:
            errors["action"] = f"{query['action'][:40]!r} is not one of {', '.join(a.value for a in AuditAction)}"
    actor = query.get("actor") or None
    if actor is not None and len(actor) > MAX_TEXT:
        errors["actor"] = f"longer than {MAX_TEXT} characters"
    since = _day(query["since"], "since", tz, next_day=False, errors=errors) if query.get("since") else None
    # 'until' includes its day: the filter runs to the next local midnight.
    until = _day(query["until"], "until", tz, next_day=True, errors=errors) if query.get("until") else None
    page = parse_int(query.get("page"), "page", default=1, maximum=_MAX_PAGE)
    assert page is not None
    if page < 1:
        errors["page"] = f"{page} is not a page number (1 or more)"
    if errors:
        raise BadRequest(errors)
    filters = AuditQuery(action, actor, since, until, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return filters, page


async def _find(request: web.Request) -> _Found:
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)
    query, page = parse_query(request.query, tz)
    audit = request.app[DIALER].audit
    entries, total = await audit.entries(replace(query, dealers=dealers_of(request)))
    return _Found(query, page, entries, total, await audit.verify())


def _chain_json(chain: ChainReport) -> dict[str, Any]:
    broken = chain.broken
    return {
        "holds": broken is None,
        "rows": chain.rows,
        "last_id": chain.last_id,
        "last_hash": chain.last_hash,
        "broken_at": None if broken is None else broken.id,
        "break": None if broken is None else broken.kind.value,
    }


@routes.route("GET", "/api/audit", Action.AUDIT_VIEW, "The audit log, newest first, and whether its chain holds",
              query=_QUERY)  # fmt: skip
async def api_audit_log(request: web.Request) -> web.StreamResponse:
    """Rows of one page, the number of matches, and the chain's state."""
    found = await _find(request)
    names = await dealer_names(request)
    return web.json_response(
        {
            "entries": [
                {**entry.to_json_dict(), "dealer": None if entry.dealer_id is None else names.get(entry.dealer_id)}
                for entry in found.entries
            ],
            "total": found.total,
            "page": found.page,
            "page_size": PAGE_SIZE,
            "chain": _chain_json(found.chain),
        }
    )


@routes.route("GET", "/audit", Action.AUDIT_VIEW, "The audit log page")
async def audit_log_page(request: web.Request) -> web.StreamResponse:
    """The log as a table in dealer time, the filter form, the pager and the chain's state."""
    found = await _find(request)
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)

    def action(entry: AuditEntry) -> str:
        known = entry.action in {a.value for a in AuditAction}
        return t(request, "audit.action." + entry.action) if known else entry.action

    def detail(entry: AuditEntry) -> str:
        return ", ".join(f"{key}={value}" for key, value in sorted(entry.detail_dict().items()))

    keys: tuple[str, ...] = ("web.audit.col.id", "web.audit.col.at", "web.audit.col.actor", "web.audit.col.action",
            "web.audit.col.target", "web.audit.col.detail")  # fmt: skip
    rows: list[tuple[object, ...]] = [
        (e.id, e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor, action(e), e.target, detail(e))
        for e in found.entries
    ]
    if dealers_of(request).mixed:  # rows of several dealers: each names its own (or the group's)
        keys += ("web.col.dealer",)
        names = await dealer_names(request)
        group = t(request, "web.dealer.group")
        rows = [
            (*row, group if e.dealer_id is None else names.get(e.dealer_id, ""))
            for row, e in zip(rows, found.entries, strict=True)
        ]
    broken = found.chain.broken
    chain = (
        t(request, "web.audit.chain_holds", rows=found.chain.rows)
        if broken is None
        else t(request, "web.audit.chain_broken", id=broken.id, why=t(request, "web.audit.break." + broken.kind.value))
    )
    shared = {k: request.query[k] for k in ("action", "actor", "since", "until", "dealer") if request.query.get(k)}
    return render(
        request, "audit.html", t(request, "web.audit.title"),
        filters={k: request.query.get(k, "") for k in ("action", "actor", "since", "until")},
        actions=[("", t(request, "web.audit.any_action"))]
        + [(a.value, t(request, "audit.action." + a.value)) for a in AuditAction],
        headers=[t(request, k) for k in keys], rows=rows, chain=chain, chain_holds=broken is None,
        page=found.page, pages=found.pages, total=found.total,
        prev_query=None if found.page <= 1 else {**shared, "page": found.page - 1},
        next_query=None if found.page >= found.pages else {**shared, "page": found.page + 1},
    )  # fmt: skip
