"""Sales manager: upload a lead file (CSV/XLSX) into LeadImporter and see the rejects row by row; upload a
DOSS export to take the showroom's visits and deals back into the leads (``dialer doss import-states``).

Progress of a long import: the form carries a random token (``progress``, set by static/import.js); while
the upload's import runs, GET /api/leads/import/progress/{token} answers how far it got (the importer's
own progress reports: rows read of about how many, then matching and writing), so the page can show it
while the browser waits for the report. Nothing is kept once the import ends.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

from aiohttp import web
from aiohttp.web_request import FileField

from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Action
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import FieldError, LeadSource, parse_source
from dialer.leads.doss_states import StatesReport
from dialer.leads.importer import ImportProgress, ImportReport, Phase
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.html import render, t
from dialer.web.keys import DIALER, console_actor
from dialer.web.routing import RouteTable

routes = RouteTable()

_SUFFIXES = (".csv", ".xlsx")
# The imports running now, by the token their form carried: the latest progress each reported.
_RUNNING: dict[str, ImportProgress | None] = {}
_TOKEN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@contextlib.asynccontextmanager
async def _uploaded(request: web.Request, errors: dict[str, str]) -> AsyncIterator[Path]:
    """The multipart upload's ``file`` saved in a fresh folder, for the block; ``errors`` the caller found in
    the form's other fields are reported together with the file's, and a file the block cannot read
    (:class:`ImportFileError`) is a 400 naming ``file``."""
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, FileField):
        errors["file"] = "no file uploaded"
    if errors or not isinstance(upload, FileField):
        raise BadRequest(errors)
    # Only the last path component of the browser's file name, in a fresh folder: nothing can escape it.
    name = PureWindowsPath(PurePosixPath(upload.filename or "").name).name.replace("\x00", "")
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise BadRequest({"file": f"{name!r}: use a .csv or .xlsx file"})
    if name in ("", ".", "..") or name.startswith("."):
        name = "upload" + suffix
    with tempfile.TemporaryDirectory(prefix="dialer-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        try:
            yield path
        except ImportFileError as exc:
            raise BadRequest({"file": str(exc).replace(folder + "/", "")}) from None


def _this_nodes_dealer(request: web.Request) -> None:
    """A file's leads are the node's dealer's (they match its leads' numbers and become its leads): another
    dealer's people import on their own dealer's node, and find no import here (as if there were none)."""
    if not dealers_of(request).allows(request.app[DIALER].dealer.id):
        raise NotFound("import_not_found", "this node imports another dealer's leads")


async def _import(request: web.Request) -> ImportReport:
    """Read the multipart upload (file, optional source and owner) and import it."""
    _this_nodes_dealer(request)
    form = await request.post()
    errors: dict[str, str] = {}
    source: LeadSource | None = None
    raw_source = str(form.get("source") or "").strip()
    if raw_source:
        try:
            source = parse_source(raw_source)
        except FieldError as exc:
            errors["source"] = f"{raw_source!r}: {exc.reason}"
    owner = str(form.get("owner") or "").strip() or None
    owners = await request.app[DIALER].leads.owner_directory(DealerScope.of(request.app[DIALER].dealer.id))
    if owner is not None and owners.resolve(owner) is None:
        errors["owner"] = f"{owner!r}: not an agent's login, identity or alias"
    force = bool(form.get("force"))
    actor = console_actor(request)
    token = str(form.get("progress") or "")
    if not _TOKEN.match(token) or token in _RUNNING:
        token = ""  # progress is shown for a fresh token only; the import runs the same without
    async with _uploaded(request, errors) as path:
        if token:
            _RUNNING[token] = None
        try:
            return await request.app[DIALER].leads.importer.import_file(
                path, actor=actor, source=source, owner=owner, force=force, progress=_reporter(token)
            )
        finally:
            _RUNNING.pop(token, None)


def _reporter(token: str) -> Callable[[ImportProgress], None] | None:
    """Keeps the import's latest progress under ``token`` (called from the importer's reading thread)."""
    if not token:
        return None

    def report(progress: ImportProgress) -> None:
        _RUNNING[token] = progress

    return report


@routes.route("GET", "/api/leads/import/progress/{token}", Action.LEAD_IMPORT, "How far a running import got")
async def import_progress(request: web.Request) -> web.StreamResponse:
    """Rows read (of about how many), or matching and writing; 404 once the import has ended (or never ran)."""
    token = request.match_info["token"]
    if token not in _RUNNING:
        raise NotFound("not_running", "no import is running under this token")
    progress = _RUNNING.get(token)
    if progress is None:
        return web.json_response({"phase": None, "rows": 0, "total": None, "text": t(request, "web.import.started")})
    if progress.phase is Phase.WRITE:
        text = t(request, "web.import.writing", rows=progress.rows)
    elif progress.total:
        total = max(progress.total, progress.rows)  # an estimate: never more done than in all
        text = t(request, "web.import.read_of", rows=progress.rows, total=total, percent=progress.rows * 100 // total)
    else:
        text = t(request, "web.import.read", rows=progress.rows)
    data = {"phase": progress.phase.value, "rows": progress.rows, "total": progress.total, "text": text}
    return web.json_response(data)


async def _import_states(request: web.Request) -> StatesReport:
    """Read the uploaded DOSS export and take its visits and deals into the leads (idempotent)."""
    _this_nodes_dealer(request)
    async with _uploaded(request, {}) as path:
        return await request.app[DIALER].manager.import_doss_states(path, console_actor(request))


def _page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    report: ImportReport | None = None,
    states: StatesReport | None = None,
    states_errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """The import page: the forms (with errors next to their fields), and the last import's report if any."""
    previous = None if report is None else report.previous
    previous_at = None if previous is None else previous.at.astimezone(request.app[DIALER].leads.tz)
    return render(
        request, "import.html", t(request, "web.import.title"), status=status, errors=errors or {}, report=report,
        previous_at=None if previous_at is None else previous_at.strftime("%Y-%m-%d %H:%M"),
        rejects=[] if report is None else [(r.row, r.field, r.value, r.reason) for r in report.rejections],
        unknown_owners=[] if report is None else [(u.row, u.name) for u in report.unknown_owners],
        sources=[s.value for s in LeadSource], states=states, states_errors=states_errors or {},
        states_problems=[] if states is None else [(p.row, p.field, p.value, p.reason) for p in states.problems],
    )  # fmt: skip


@routes.route("GET", "/import", Action.LEAD_IMPORT, "The lead import form")
async def import_form(request: web.Request) -> web.StreamResponse:
    """Upload form: file, default source and owner for rows that leave them empty."""
    return _page(request)


@routes.route("POST", "/import", Action.LEAD_IMPORT, "Import an uploaded lead file (form)")
async def import_upload(request: web.Request) -> web.StreamResponse:
    """Import and show the report: counts, then every rejected row with field, value and reason."""
    try:
        report = await _import(request)
    except BadRequest as exc:
        return _page(request, errors=exc.fields, status=400)
    return _page(request, report=report)


@routes.route("POST", "/api/leads/import", Action.LEAD_IMPORT, "Import a lead file (multipart: file, source, owner)",
              body="multipart/form-data")  # fmt: skip
async def api_import(request: web.Request) -> web.StreamResponse:
    """The import report as JSON (the same as ``dialer leads import --json``)."""
    report = await _import(request)
    data = report.to_json()
    data["file"] = Path(report.file).name  # not the temporary folder it was read from
    return web.json_response(data)


@routes.route("POST", "/import/doss-states", Action.LEAD_IMPORT, "Take the visits and deals of a DOSS export (form)")
async def import_states_upload(request: web.Request) -> web.StreamResponse:
    """The DOSS export's report: recorded, unchanged, other states, and every problem row."""
    try:
        report = await _import_states(request)
    except BadRequest as exc:
        return _page(request, states_errors=exc.fields, status=400)
    return _page(request, states=report)


@routes.route("POST", "/api/doss/import-states", Action.LEAD_IMPORT,
              "Take the visits and deals of a DOSS export (multipart: file)", body="multipart/form-data")  # fmt: skip
async def api_import_states(request: web.Request) -> web.StreamResponse:
    """The report as JSON (the same as ``dialer doss import-states --json``)."""
    return web.json_response((await _import_states(request)).to_json())
