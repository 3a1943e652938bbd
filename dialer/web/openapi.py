"""The OpenAPI 3 document, generated from the route table: the API cannot drift from its description."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from dialer.web.keys import ROUTES
from dialer.web.routing import Open, RouteSpec, RouteTable

routes = RouteTable()

OPENAPI_VERSION = "3.0.3"
_ERROR = {"$ref": "#/components/schemas/Error"}


def _openapi_path(path: str) -> str:
    """aiohttp's ``{id:\\d+}`` becomes OpenAPI's ``{id}``."""
    out, depth, skipping = [], 0, False
    for ch in path:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            skipping = False
        elif ch == ":" and depth:
            skipping = True
            continue
        if not skipping:
            out.append(ch)
    return "".join(out)


def _path_schema(name: str, pattern: str) -> dict[str, Any]:
    """``{id:\\d+}`` is an integer, ``{command:start|stop}`` one of those words, anything else a string."""
    if name.endswith("_id"):
        return {"type": "integer"}
    if re.fullmatch(r"\w+(\|\w+)+", pattern):
        return {"type": "string", "enum": pattern.split("|")}
    return {"type": "string"}


def _operation(spec: RouteSpec) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name, pattern)}
        for name, pattern in spec.path_patterns
    ]
    params += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": {"type": p.type},
        }
        for p in spec.query
    ]
    roles = "everyone" if spec.access is Open.PUBLIC else ", ".join(sorted(r.value for r in spec.allowed_roles()))
    op: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "description": f"Access: {spec.access.value} ({roles}).",
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {spec.response: {}}},
            "400": {
                "description": "Bad input; `fields` names each bad field",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "401": {"description": "Not logged in", "content": {"application/json": {"schema": _ERROR}}},
            "403": {
                "description": "Role not allowed, or CSRF token missing",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if spec.access is not Open.PUBLIC:
        op["security"] = [{"session": []}]
    if spec.body is not None:
        media: dict[str, Any] = {}
        if spec.fields:
            properties = {f.name: {"type": f.type, "description": f.description} for f in spec.fields}
            required = [f.name for f in spec.fields if f.required]
            media["schema"] = {
                "type": "object",
                "properties": properties,
                **({"required": required} if required else {}),
            }
        op["requestBody"] = {"required": any(f.required for f in spec.fields) or not spec.fields,
                             "content": {spec.body: media}}  # fmt: skip
    return op


def document(specs: Iterable[RouteSpec]) -> dict[str, Any]:
    """The OpenAPI document of every ``/api/`` route."""
    paths: dict[str, dict[str, Any]] = {}
    for spec in sorted((s for s in specs if s.is_api), key=lambda s: (s.path, s.method)):
        paths.setdefault(_openapi_path(spec.path), {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "DCC Dialer console API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "dcc_session",
                    "description": "Log in at /login; state-changing calls also need X-CSRF-Token (see /api/me).",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["error"],
                },
            },
        },
    }


@routes.route("GET", "/api/openapi.json", Open.ANY_USER, "This document")
async def openapi_json(request: web.Request) -> web.StreamResponse:
    """The API description, generated from the route table."""
    return web.json_response(document(request.app[ROUTES].values()))
