"""The console API fuzzed from its own OpenAPI document: any path parameter, query string, body and
role gets a clear answer, never a server error.

The document is read from the running app, so a new route is fuzzed the day it is added; bodies
are declared by media type only, so JSON bodies are arbitrary JSON (and sometimes not JSON at all).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dialer.domain.access.policy import Role
from tests.web.conftest import Login

# Several endpoints hash, query or stream; the examples share one store, so state piles up like in real use.
FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
scalar = st.one_of(
    text,
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        [
            "",
            "-1",
            "0",
            "1",
            "1e9",
            "NaN",
            "%00",
            "../../etc/passwd",
            "2026-13-45",
            "true",
        ]
    ),
)


def path_value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Mostly the declared type (so the handler is reached), sometimes anything (so the router is hit)."""
    typed = (
        st.integers(-(2**63), 2**63).map(str)
        if schema.get("type") == "integer"
        else text.filter(lambda t: "/" not in t and t)
    )
    return st.one_of(typed, typed, scalar.filter(lambda t: "/" not in t and t not in ("", ".", "..")))


@st.composite
def requests(draw: st.DrawFn, doc: dict[str, Any]) -> tuple[str, str, dict[str, str], Any, str | None]:
    path, ops = draw(st.sampled_from(sorted(doc["paths"].items())))
    method, op = draw(st.sampled_from(sorted(ops.items())))
    url = path
    query: dict[str, str] = {}
    for param in op["parameters"]:
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", draw(path_value(param["schema"])))
        elif param.get("required") or draw(st.booleans()):
            query[param["name"]] = draw(scalar)
    query.update(draw(st.dictionaries(text.filter(bool), scalar, max_size=2)))
    body: Any = None
    media = next(iter(op.get("requestBody", {}).get("content", {})), None)
    if media == "application/json":
        body = draw(st.one_of(json_values.map(json.dumps), st.binary(max_size=200)))
    elif media == "multipart/form-data":
        body = draw(
            st.dictionaries(
                st.sampled_from(["file", "source", "owner", "x"]),
                st.binary(max_size=300),
                max_size=3,
            )
        )
    elif method in ("post", "put", "patch"):
        body = draw(st.one_of(st.none(), st.binary(max_size=200)))
    return method.upper(), url, query, body, media


@FUZZ
@given(data=st.data(), role=st.sampled_from([None, *Role]))
async def test_every_api_input_gets_a_clear_answer(
    client: TestClient,
    logins: dict[Role, Login],
    data: st.DataObject,
    role: Role | None,
) -> None:
    resp = await client.get("/api/openapi.json", headers=logins[Role.ADMIN].headers())
    assert resp.status == 200
    doc = await resp.json()
    method, url, query, body, media = data.draw(requests(doc))
    headers = {} if role is None else logins[role].headers()
    payload: Any = body
    if media == "multipart/form-data" and isinstance(body, dict):
        payload = FormData()
        for name, content in body.items():
            payload.add_field(name, content, filename=f"{name}.csv")
    elif media == "application/json" and body is not None:
        headers["Content-Type"] = media
    resp = await client.request(method, url, params=query, data=payload, headers=headers)
    content = await resp.read()
    event(f"{resp.status}")
    # 503 is the one honest server-side answer: a console started without the PBX cannot listen in.
    assert resp.status < 500 or resp.status == 503, f"{method} {url} {query!r} -> {resp.status}: {content[:300]!r}"
    if resp.status >= 400 and (resp.status == 503 or url.startswith("/api/")):
        assert resp.content_type == "application/json", (
            f"{method} {url} -> {resp.status} as {resp.content_type}: {content[:300]!r}"
        )
        assert json.loads(content).get("error"), (
            f"{method} {url} -> {resp.status} without an error code: {content[:300]!r}"
        )
