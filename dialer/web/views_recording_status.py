"""The recordings' housekeeping (#15 item 4): what ``dialer recordings reconcile`` and ``purge`` report.

Files without rows and rows without files come from :meth:`RecordingRegistry.reconcile` run without
``fix`` (it only reads); what retention deletes now and next, and its last deletion, from the same
registry. Running reconcile from here is the CLI's ``reconcile [--fix]``, recorded in the audit log
(``recording.reconcile``, with what it found and fixed). The administrator and the supervisor see
this page (``recording.maintain``): paths and counts, never a recording's sound. The folder and its
recordings are this node's, so its dealer's: another dealer's people find no such page here (their
own dealer's node serves theirs), like the wallboard.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Action
from dialer.domain.audit.model import AuditAction, AuditQuery
from dialer.recording.registry import ReconcileReport
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.forms import json_object
from dialer.web.html import render, t
from dialer.web.keys import DIALER, console_actor
from dialer.web.routing import Param, RouteTable
from dialer.web.views_desk import local_time

routes = RouteTable()

# How far ahead the page looks at retention, and how many recordings it lists.
OUTLOOK = timedelta(days=7)
OUTLOOK_SHOWN = 50
# Paths listed per finding; the counts cover them all.
PATHS_SHOWN = 200
RUNS_SHOWN = 5
_TRUE = frozenset({"1", "true", "on", "yes"})


def _report_json(report: ReconcileReport) -> dict[str, Any]:
    """The CLI's ``reconcile --json`` figures, each list cut to :data:`PATHS_SHOWN` with its full count."""
    lists = {
        "orphan_files": list(report.orphan_files), "in_progress": list(report.in_progress),
        "superseded": list(report.superseded), "adopted": [r.path for r in report.adopted],
        "missing": [r.path for r in report.missing],
    }  # fmt: skip
    return {
        "clean": report.clean, "fixed": report.fixed,
        **{name: paths[:PATHS_SHOWN] for name, paths in lists.items()},
        "counts": {name: len(paths) for name, paths in lists.items()},
    }  # fmt: skip


def _this_nodes_dealer(request: web.Request) -> int:
    """This node's dealer, whose recordings folder this is; :class:`NotFound` for another dealer's people."""
    node = request.app[DIALER].dealer.id
    if not dealers_of(request).allows(node):
        raise NotFound("recording_status_not_found", "this node's recordings are another dealer's")
    return node


async def _status(request: web.Request) -> dict[str, Any]:
    node = _this_nodes_dealer(request)
    app = request.app[DIALER]
    registry = app.recordings
    report = await registry.reconcile(fix=False)
    cutoff, upcoming = await registry.retention_outlook(OUTLOOK, OUTLOOK_SHOWN + 1)
    days = app.settings.recording.retention_days
    purged = await registry.last_purged()
    runs, _ = await app.audit.entries(
        AuditQuery(action=AuditAction.RECORDING_RECONCILE, limit=RUNS_SHOWN, dealers=DealerScope.of(node))
    )
    return {
        "reconcile": _report_json(report),
        "retention": {
            "retention_days": days, "cutoff": cutoff.isoformat(),
            "due_now": sum(r.started_at < cutoff for r in upcoming[:OUTLOOK_SHOWN]),
            "upcoming": [
                {"recording_id": r.id, "path": r.path, "started_at": r.started_at.isoformat(),
                 "purge_from": (r.started_at + timedelta(days=days)).isoformat()}
                for r in upcoming[:OUTLOOK_SHOWN]
            ],
            "more": len(upcoming) > OUTLOOK_SHOWN,
            "last_purge": None if purged is None else {"at": purged.at.isoformat(), "recording_id": purged.recording_id},
        },
        "reconcile_runs": [{"at": e.at.isoformat(), "actor": e.actor, "detail": json.loads(e.detail)} for e in runs],
    }  # fmt: skip


async def _run(request: web.Request, fix: bool) -> dict[str, Any]:
    """Reconcile (``--fix`` when asked) and record the run in the audit log before answering."""
    node = _this_nodes_dealer(request)
    app = request.app[DIALER]
    report = _report_json(await app.recordings.reconcile(fix=fix))
    detail = {"fix": fix, "clean": report["clean"], **report["counts"]}
    await app.audit.record(console_actor(request), AuditAction.RECORDING_RECONCILE, "recordings", detail,
                           dealer_id=node)  # fmt: skip
    return report


@routes.route("GET", "/api/recordings/status", Action.RECORDING_MAINTAIN,
              "Reconcile's findings now (read only), what retention deletes next, the last runs")  # fmt: skip
async def api_recording_status(request: web.Request) -> web.StreamResponse:
    """Paths relative to the recordings folder; times UTC ISO-8601."""
    return web.json_response(await _status(request))


@routes.route("POST", "/api/recordings/reconcile", Action.RECORDING_MAINTAIN,
              "Run reconcile (dialer recordings reconcile [--fix]); audited", body="application/json",
              fields=(Param("fix", "adopt, clean up and stamp what can be settled (true/false)", "boolean"),))  # fmt: skip
async def api_recording_reconcile(request: web.Request) -> web.StreamResponse:
    """The run's report (the CLI's ``--json`` figures)."""
    fix = False
    if (await request.read()).strip():  # the body is optional: an empty POST runs without fix
        body = await json_object(request)
        if not isinstance(body.get("fix", False), bool):
            raise BadRequest({"fix": "expected true or false"})
        fix = bool(body.get("fix", False))
    return web.json_response(await _run(request, fix))


@routes.route("GET", "/recordings/status", Action.RECORDING_MAINTAIN, "The recordings' reconcile and retention status")
async def recording_status_page(request: web.Request) -> web.StreamResponse:
    """Findings, retention outlook, last runs, and the button that runs reconcile."""
    return _page(request, await _status(request), ran=request.query.get("ran", "") in _TRUE)


@routes.route("POST", "/recordings/status/reconcile", Action.RECORDING_MAINTAIN, "Run reconcile (form; audited)")
async def recording_reconcile(request: web.Request) -> web.StreamResponse:
    """Field ``fix`` (checkbox); back to the page, which shows the findings after the run."""
    posted = await request.post()
    await _run(request, str(posted.get("fix", "")).lower() in _TRUE)
    raise web.HTTPSeeOther("/recordings/status?ran=1")


def _page(request: web.Request, status: dict[str, Any], *, ran: bool) -> web.Response:
    def shown(iso: str) -> str:
        return local_time(request, datetime.fromisoformat(iso))

    found = status["reconcile"]
    findings = [
        (name, t(request, f"web.recstatus.finding.{name}"), found["counts"][name], found[name])
        for name in ("orphan_files", "missing", "superseded", "in_progress")
    ]
    retention = status["retention"]
    upcoming = [
        (r["recording_id"], r["path"], shown(r["started_at"]), shown(r["purge_from"])) for r in retention["upcoming"]
    ]

    def result(detail: dict[str, Any]) -> str:
        counts = {k: detail.get(k, 0) for k in ("orphan_files", "missing", "superseded", "adopted")}
        return t(request, "web.recstatus.run_detail", fix=t(request, f"web.history.{'yes' if detail.get('fix') else 'no'}"),
                 **counts)  # fmt: skip

    runs = [(shown(r["at"]), r["actor"], result(r["detail"])) for r in status["reconcile_runs"]]
    last = retention["last_purge"]
    return render(
        request, "recording_status.html", t(request, "web.recstatus.title"), clean=found["clean"], findings=findings,
        days=retention["retention_days"], cutoff=shown(retention["cutoff"]), due_now=retention["due_now"],
        upcoming=upcoming, more=retention["more"], last_purge="" if last is None else shown(last["at"]), runs=runs,
        ran=ran, headers_upcoming=[t(request, f"web.recstatus.col.{k}") for k in ("id", "path", "started", "purge_from")],
        headers_runs=[t(request, f"web.recstatus.col.{k}") for k in ("at", "actor", "result")],
    )  # fmt: skip
