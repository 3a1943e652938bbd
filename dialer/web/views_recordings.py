"""Recordings: evidence search and playback in the browser, through the access policy, with HTTP Range.

The file side is dialer.recording.serving's: :func:`resolve_recording` refuses any path that
leaves the recordings folder and :func:`parse_range` reads the Range header; this module only
decides who may have which bytes and writes them out.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action, Reason, Resource, Role, can
from dialer.domain.audit.model import AuditAction
from dialer.domain.recording.errors import UnsafePath
from dialer.domain.recording.model import Recording
from dialer.logs import get_logger
from dialer.phone import InvalidPhone, normalize
from dialer.recording.serving import ByteRange, RangeNotSatisfiable, parse_range, resolve_recording
from dialer.web.dealers import agent_filter, audit_dealer, dealer_names, dealers_of
from dialer.web.errors import BadRequest, Forbidden, NotFound
from dialer.web.forms import parse_int
from dialer.web.html import allowed, policy_user, render, t
from dialer.web.keys import DIALER, RECORDINGS, SETTINGS, session_of
from dialer.web.routing import Param, RouteTable

log = get_logger(__name__)
routes = RouteTable()

_CHUNK = 64 * 1024  # bytes per write: small enough to stream, large enough to keep syscalls few
_DEFAULT_LIMIT = 100
_MAX_LIMIT = 1000


async def _search(request: web.Request) -> list[Recording]:
    """Search by number, agent and local dates; an agent's search is always limited to their own calls."""
    settings = request.app[SETTINGS]
    tz = ZoneInfo(settings.dealer.timezone)
    query = request.query
    errors: dict[str, str] = {}
    number = None
    if query.get("number"):
        try:
            number = normalize(query["number"], settings.dealer.region).e164
        except InvalidPhone as exc:
            errors["number"] = f"{query['number']!r}: {exc.reason}"
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name in bounds:
        if query.get(name):
            try:
                day = datetime.strptime(query[name], "%Y-%m-%d").date()
            except ValueError:
                errors[name] = f"{query[name]!r} is not a date (YYYY-MM-DD)"
                continue
            # 'until' includes its day: the search runs to the next local midnight.
            try:
                bounds[name] = datetime.combine(day + timedelta(days=1 if name == "until" else 0), time(), tz)
            except OverflowError:  # 9999-12-31: there is no next midnight
                errors[name] = f"{query[name]!r} is past the last date this search can reach"
    if errors:
        raise BadRequest(errors)
    limit = min(parse_int(query.get("limit"), "limit", default=_DEFAULT_LIMIT) or _DEFAULT_LIMIT, _MAX_LIMIT)
    user = session_of(request).user
    agent: str | None
    if user.role is Role.AGENT:
        if not user.agent:
            raise Forbidden("no_agent_identity", "this login has no agent identity")
        dealers, agent = dealers_of(request), user.agent
    else:
        dealers, agent = await agent_filter(request)
    return await request.app[RECORDINGS].search(
        number=number, agent=agent, since=bounds["since"], until=bounds["until"], limit=limit, dealers=dealers
    )


@routes.route("GET", "/recordings", Action.RECORDING_SEARCH, "Search recordings and play them")
async def recordings_page(request: web.Request) -> web.StreamResponse:
    """Search form and results, each with an audio player (Range requests let the player seek)."""
    found = await _search(request) if request.query else []
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)
    return render(
        request, "recordings.html", t(request, "web.rec.title"), query=request.query, found=found, tz=tz,
        dealer_codes=await _dealer_codes(request),
        may_download=allowed(request, Action.RECORDING_DOWNLOAD), may_score=allowed(request, Action.QA_SCORE),
    )  # fmt: skip


@routes.route("GET", "/api/recordings", Action.RECORDING_SEARCH, "Search recordings (agents: only their own)",
              query=(Param("number", "customer number, any common format"), Param("agent", "agent identity; group-wide: code/agent, e.g. pudong/8001"),
                     Param("since", "first local day, YYYY-MM-DD"), Param("until", "last local day, YYYY-MM-DD"),
                     Param("limit", "at most this many (default 100)", "integer")))  # fmt: skip
async def api_recordings(request: web.Request) -> web.StreamResponse:
    """Search results as JSON, newest first; for a group-wide person each names its dealer."""
    found = await _search(request)
    codes = await _dealer_codes(request)
    if codes is None:
        return web.json_response({"recordings": [r.to_json_dict() for r in found]})
    return web.json_response({"recordings": [{**r.to_json_dict(), "dealer": codes.get(r.dealer_id)} for r in found]})


async def _dealer_codes(request: web.Request) -> dict[int, str] | None:
    """Dealer id to code where the viewer is group-wide (the list's dealer column), else None."""
    return await dealer_names(request) if dealers_of(request).group else None


async def _serve(request: web.Request, action: Action, disposition: str) -> web.StreamResponse:
    recording_id = parse_int(request.match_info["recording_id"], "recording_id")
    assert recording_id is not None
    recording = await request.app[RECORDINGS].get(recording_id, dealers_of(request))
    if recording is None:
        raise NotFound("recording_not_found", f"recording {recording_id} does not exist")
    user = policy_user(request)
    assert user is not None
    decision = can(user, action, Resource(agent=recording.agent, deleted=recording.deleted))
    if not decision:
        log.warning("web.recording_refused", recording_id=recording_id, user=user.name, reason=decision.reason.value)
        if decision.reason is Reason.RECORDING_DELETED:
            raise NotFound("recording_deleted", f"recording {recording_id} was deleted ({recording.delete_reason})")
        raise Forbidden(decision.reason.value, f"recording {recording_id}: {decision.reason.value}")
    try:
        served = resolve_recording(request.app[DIALER].recordings.root, recording)
    except UnsafePath as exc:
        log.error("web.recording_unsafe_path", recording_id=recording_id, error=str(exc))
        raise NotFound("recording_file_missing", f"recording {recording_id}: file unavailable") from None
    wanted = parse_range(request.headers.get("Range"), served.size)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": served.etag,
        "Content-Disposition": f'{disposition}; filename="recording-{recording.id}{served.path.suffix}"',
        "Cache-Control": "private, no-store",
    }
    if isinstance(wanted, RangeNotSatisfiable):
        return web.Response(status=416, headers={**headers, "Content-Range": wanted.content_range})
    if_range = request.headers.get("If-Range")
    if isinstance(wanted, ByteRange) and if_range is not None and if_range != served.etag:
        wanted = None  # the client's copy is of another version: send it all
    start, length = (wanted.start, wanted.length) if isinstance(wanted, ByteRange) else (0, served.size)
    # Every answer that hands out audio is audited, seeks within a play included: a copy can be
    # pieced together from ranges just as well as downloaded at once.
    await request.app[DIALER].audit.record(
        user.name,
        AuditAction.RECORDING_PLAY if action is Action.RECORDING_PLAY else AuditAction.RECORDING_DOWNLOAD,
        str(recording.id),
        {"agent": recording.agent, "start": start, "length": length},
        dealer_id=audit_dealer(request, recording.dealer_id),
    )
    response = web.StreamResponse(status=206 if isinstance(wanted, ByteRange) else 200, headers=headers)
    if isinstance(wanted, ByteRange):
        response.headers["Content-Range"] = wanted.content_range
    response.content_type = served.media_type
    response.content_length = length
    await response.prepare(request)
    with served.path.open("rb") as f:
        f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(_CHUNK, remaining))
            if not chunk:
                break
            await response.write(chunk)
            remaining -= len(chunk)
    await response.write_eof()
    log.info(
        "web.recording_served",
        recording_id=recording.id,
        user=user.name,
        action=action.value,
        start=start,
        length=length,
    )
    return response


@routes.route("GET", "/recordings/{recording_id:\\d+}/audio", Action.RECORDING_PLAY, "Play a recording (HTTP Range)",
              response="audio/*")  # fmt: skip
async def recording_audio(request: web.Request) -> web.StreamResponse:
    """The audio inline for the browser's player; agents only their own calls."""
    return await _serve(request, Action.RECORDING_PLAY, "inline")


@routes.route("GET", "/recordings/{recording_id:\\d+}/download", Action.RECORDING_DOWNLOAD, "Download a copy of a recording",
              response="audio/*")  # fmt: skip
async def recording_download(request: web.Request) -> web.StreamResponse:
    """A copy to keep (complaint evidence): supervisors and QA only, per the policy."""
    return await _serve(request, Action.RECORDING_DOWNLOAD, "attachment")
