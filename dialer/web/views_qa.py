"""QA in the console (#15 item 4): the week's sample, and scoring a call on its recording's page.

The same :class:`dialer.qa.service.QaService` as ``dialer qa score``: the form is
``config/qa_form.toml``, a scoring that does not fit it is refused naming the item, nothing stored.
The sample asks for ``[recording] qa_sample_per_week`` calls per agent each week
(:mod:`dialer.domain.qa.sampling`): the reviewer works down the list instead of picking calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.qa.errors import ScoreError
from dialer.domain.recording.model import Recording
from dialer.i18n import DEFAULT_LANGUAGE
from dialer.phone import mask
from dialer.web.dealers import dealers_of
from dialer.web.errors import BadRequest, NotFound
from dialer.web.forms import json_object, parse_int, whole_number
from dialer.web.html import render, t
from dialer.web.keys import DIALER, LANG, RECORDINGS, SETTINGS, console_actor
from dialer.web.routing import Param, RouteTable

routes = RouteTable()

COMMENT_MAX = 1000
_ITEM_PREFIX = "item-"


async def _recording(request: web.Request) -> Recording:
    recording_id = parse_int(request.match_info["recording_id"], "recording_id")
    assert recording_id is not None
    recording = await request.app[RECORDINGS].get(recording_id, dealers_of(request))
    if recording is None:
        raise NotFound("recording_not_found", f"recording {recording_id} does not exist")
    if recording.deleted:
        raise NotFound("recording_deleted", f"recording {recording_id} was deleted ({recording.delete_reason})")
    return recording


def parse_scoring(data: Mapping[str, Any]) -> tuple[dict[str, int], str]:
    """Item values and the comment, from the form (``item-<id>`` fields) or JSON (``values``, ``comment``)."""
    errors: dict[str, str] = {}
    raw_values = data.get("values")
    if raw_values is None:
        raw_values = {k.removeprefix(_ITEM_PREFIX): v for k, v in data.items() if k.startswith(_ITEM_PREFIX)}
    if not isinstance(raw_values, Mapping):
        raise BadRequest({"values": "must be an object of item id -> value"})
    values: dict[str, int] = {}
    for item_id, raw in raw_values.items():
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(str(raw), maximum=1000)
        if value is None:
            errors[_ITEM_PREFIX + str(item_id)] = f"{raw!r} is not a whole number"
        else:
            values[str(item_id)] = value
    comment = data.get("comment", "")
    if not isinstance(comment, str):
        errors["comment"] = "must be text"
        comment = ""
    elif len(comment) > COMMENT_MAX:
        errors["comment"] = f"{len(comment)} characters, at most {COMMENT_MAX}"
    if errors:
        raise BadRequest(errors)
    return values, comment.strip()


async def _score(request: web.Request, recording: Recording, data: Mapping[str, Any]) -> dict[str, Any]:
    values, comment = parse_scoring(data)
    try:
        stored = await request.app[DIALER].qa.score(
            recording.id, scorer=console_actor(request), values=values, comment=comment
        )
    except ScoreError as exc:
        raise BadRequest({_ITEM_PREFIX + exc.item: str(exc)}) from None
    return {"score_id": stored.score_id, "recording_id": recording.id, "score": stored.score}


def _sample_json(monday: str, samples: list[Any]) -> dict[str, Any]:
    return {
        "week": monday,
        "agents": [{"agent": s.agent, "calls": s.calls, "scored": s.scored, "to_score": list(s.to_score)}
                   for s in samples],
    }  # fmt: skip


@routes.route("GET", "/api/qa/sample", Action.QA_SCORE, "This week's QA sample: N calls per agent to score")
async def api_qa_sample(request: web.Request) -> web.StreamResponse:
    """Per agent: calls recorded this week, scored, and the recording ids to score next."""
    monday, samples = await request.app[DIALER].qa.week_sample(
        request.app[SETTINGS].recording.qa_sample_per_week, dealers_of(request)
    )
    return web.json_response(_sample_json(monday.isoformat(), samples))


@routes.route("GET", "/qa", Action.QA_SCORE, "This week's QA sample")
async def qa_page(request: web.Request) -> web.StreamResponse:
    """Each agent's calls to score this week, each linking to its scoring page."""
    per_week = request.app[SETTINGS].recording.qa_sample_per_week
    monday, samples = await request.app[DIALER].qa.week_sample(per_week, dealers_of(request))
    return render(request, "qa/sample.html", t(request, "web.qa.title"), week=monday.isoformat(), samples=samples,
                  per_week=per_week)  # fmt: skip


@routes.route("POST", "/api/recordings/{recording_id:\\d+}/qa", Action.QA_SCORE, "Score a recorded call",
              body="application/json",
              fields=(Param("values", "item id -> whole value, every item that applies to the call", "object",
                            required=True),
                      Param("comment", f"what the agent should hear (at most {COMMENT_MAX} characters)")))  # fmt: skip
async def api_qa_score(request: web.Request) -> web.StreamResponse:
    """201 with the score; 400 naming the item (``item-<id>``) that does not fit the form."""
    recording = await _recording(request)
    return web.json_response(await _score(request, recording, await json_object(request)), status=201)


@routes.route(
    "GET", "/recordings/{recording_id:\\d+}/qa", Action.QA_SCORE, "Score a call: player, form, earlier scores"
)
async def qa_score_page(request: web.Request) -> web.StreamResponse:
    """The call's player, the form's items that apply to it, and its earlier scorings."""
    return await _page(request, await _recording(request), {}, {})


@routes.route("POST", "/recordings/{recording_id:\\d+}/qa", Action.QA_SCORE, "Score a call (form)")
async def qa_score_post(request: web.Request) -> web.StreamResponse:
    """Store the scoring, then back to the page with it; a refused item is marked, the values kept."""
    recording = await _recording(request)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and k != "csrf_token"}
    try:
        await _score(request, recording, form)
    except BadRequest as exc:
        return await _page(request, recording, exc.fields, form, status=400)
    raise web.HTTPSeeOther(f"/recordings/{recording.id}/qa?saved=1")


async def _page(
    request: web.Request, recording: Recording, errors: Mapping[str, str], typed: Mapping[str, str],
    *, status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    qa = request.app[DIALER].qa
    lang = request.get(LANG, DEFAULT_LANGUAGE)
    tz = ZoneInfo(request.app[SETTINGS].dealer.timezone)
    items = [
        {"id": i.id, "label": i.label_for(lang), "guide": i.guide, "max": i.max,
         "value": typed.get(_ITEM_PREFIX + i.id, "")}
        for i in qa.form.applicable(recording.direction)
    ]  # fmt: skip
    earlier = [
        (s.scored_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), s.scorer, f"{s.score:.1f}", s.form_version)
        for s in reversed(await qa.scorings(recording.id))
    ]
    facts = [
        ("web.col.agent", recording.agent or t(request, "web.report.no_agent")),
        ("web.col.direction", t(request, f"rec.direction.{recording.direction.value}")),
        ("web.col.phone", mask(recording.number or "")),
        ("web.col.at", recording.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
        ("web.col.duration", f"{recording.duration_s:.0f} s"),
    ]
    return render(
        request, "qa/score.html", t(request, "web.qa.score_title", id=recording.id), status=status,
        recording=recording, facts=facts, items=items, errors=dict(errors), comment=typed.get("comment", ""),
        earlier=earlier, saved=bool(request.query.get("saved")), form_version=qa.form.version,
    )  # fmt: skip
