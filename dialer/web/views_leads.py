"""Sales manager: upload a lead file (CSV/XLSX) into LeadImporter and see the rejects row by row."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from aiohttp import web
from aiohttp.web_request import FileField

from dialer.domain.access.policy import Action
from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import FieldError, LeadSource, parse_source
from dialer.leads.importer import ImportReport
from dialer.web.errors import BadRequest
from dialer.web.html import csrf_field, esc, field_errors, page, t, table
from dialer.web.keys import DIALER, session_of
from dialer.web.routing import RouteTable

routes = RouteTable()

_SUFFIXES = (".csv", ".xlsx")


async def _import(request: web.Request) -> ImportReport:
    """Read the multipart upload (file, optional source and owner) and import it."""
    form = await request.post()
    upload = form.get("file")
    errors: dict[str, str] = {}
    if not isinstance(upload, FileField):
        errors["file"] = "no file uploaded"
    source: LeadSource | None = None
    raw_source = str(form.get("source") or "").strip()
    if raw_source:
        try:
            source = parse_source(raw_source)
        except FieldError as exc:
            errors["source"] = f"{raw_source!r}: {exc.reason}"
    if errors or not isinstance(upload, FileField):
        raise BadRequest(errors)
    # Only the last path component of the browser's file name, in a fresh folder: nothing can escape it.
    name = PureWindowsPath(PurePosixPath(upload.filename or "").name).name.replace("\x00", "")
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise BadRequest({"file": f"{name!r}: use a .csv or .xlsx file"})
    if name in ("", ".", "..") or name.startswith("."):
        name = "upload" + suffix
    owner = str(form.get("owner") or "").strip() or None
    actor = "web:" + session_of(request).user.name
    with tempfile.TemporaryDirectory(prefix="dialer-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        try:
            return await request.app[DIALER].leads.importer.import_file(path, actor=actor, source=source, owner=owner)
        except ImportFileError as exc:
            raise BadRequest({"file": str(exc).replace(folder + "/", "")}) from None


def _form(request: web.Request, errors: dict[str, str]) -> str:
    sources = "".join(
        f'<option value="{s.value}">{esc(t(request, "web.source." + s.value))}</option>' for s in LeadSource
    )
    return (
        f'<form method="post" action="/import" enctype="multipart/form-data" id="import-form" class="card">{csrf_field(request)}'
        f'<label>{esc(t(request, "web.import.file"))} <input type="file" id="import-file" name="file" accept=".csv,.xlsx" required>{field_errors(errors, "file")}</label>'
        f'<label>{esc(t(request, "web.import.source"))} <select id="import-source" name="source"><option value=""></option>{sources}</select>{field_errors(errors, "source")}</label>'
        f'<label>{esc(t(request, "web.import.owner"))} <input id="import-owner" name="owner"></label>'
        f'<button id="import-submit" type="submit">{esc(t(request, "web.import.submit"))}</button></form>'
    )


@routes.route("GET", "/import", Action.LEAD_IMPORT, "The lead import form")
async def import_form(request: web.Request) -> web.StreamResponse:
    """Upload form: file, default source and owner for rows that leave them empty."""
    return page(request, t(request, "web.import.title"), _form(request, {}))


@routes.route("POST", "/import", Action.LEAD_IMPORT, "Import an uploaded lead file (form)")
async def import_upload(request: web.Request) -> web.StreamResponse:
    """Import and show the report: counts, then every rejected row with field, value and reason."""
    try:
        report = await _import(request)
    except BadRequest as exc:
        return page(request, t(request, "web.import.title"), _form(request, exc.fields), status=400)
    summary = t(request, "web.import.summary", rows=report.rows, created=report.created, updated=report.updated,
                unchanged=report.unchanged, rejected=report.rejected_rows)  # fmt: skip
    rejects = table(
        [t(request, k) for k in ("web.col.row", "web.col.field", "web.col.value", "web.col.reason")],
        [(r.row, r.field, r.value, r.reason) for r in report.rejections],
        "import-rejects",
    )
    body = f'<p id="import-summary" class="card">{esc(summary)}</p>{rejects}{_form(request, {})}'
    return page(request, t(request, "web.import.title"), body)


@routes.route("POST", "/api/leads/import", Action.LEAD_IMPORT, "Import a lead file (multipart: file, source, owner)",
              body="multipart/form-data")  # fmt: skip
async def api_import(request: web.Request) -> web.StreamResponse:
    """The import report as JSON (the same as ``dialer leads import --json``)."""
    report = await _import(request)
    data = report.to_json()
    data["file"] = Path(report.file).name  # not the temporary folder it was read from
    return web.json_response(data)
