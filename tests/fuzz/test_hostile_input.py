"""The inputs that used to crash the console, fuzzed: integers in the query and the URL (any digits of
any script, any length), the CSRF token (any text, as a header or a form field), the Range header and
form bodies of any content type. Every answer is a clear 4xx or a success, never a server error.
And X-Forwarded-For: whatever it says, a client that is not a trusted proxy cannot choose its address."""

from __future__ import annotations

import ipaddress

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dialer.domain.access.policy import Role
from dialer.recording.serving import ByteRange, RangeNotSatisfiable, parse_range
from dialer.web.client_address import client_address, parse_networks
from dialer.web.forms import whole_number
from tests.web.conftest import Fixtures, Login

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Digits of every script (Nd), digit-like signs ('²', '½'), and numbers past int()'s 4,300 digits.
odd_digits = st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=12)
huge = st.integers(4290, 6000).map(lambda n: "9" * n)
# What a client can put in a header: no line breaks, no NUL.
header_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)
numbers = st.one_of(odd_digits, huge, st.integers(0, 2**70).map(str), header_text)
# Integer parameters a supervisor may send, per route.
INTEGER_PARAMS = [("/api/recordings", "limit"), ("/api/listen-ins", "days"), ("/api/leads", "page"),
                  ("/api/leads", "per_page"), ("/recordings", "limit"), ("/supervise/log", "days")]  # fmt: skip
FORM_TYPES = ["multipart/form-data", "multipart/form-data; boundary=", "",
              "application/x-www-form-urlencoded; charset=no-such", "application/x-www-form-urlencoded; charset=utf-16"]  # fmt: skip


@given(text=numbers)
def test_whole_number_reads_ascii_digits_only_and_never_raises(text: str) -> None:
    number = whole_number(text)
    if number is not None:
        assert text.isascii() and text.isdigit() and number == int(text) <= 2**63 - 1


@given(spec=st.one_of(header_text, st.tuples(numbers, numbers).map(lambda p: f"bytes={p[0]}-{p[1]}")),
       size=st.integers(0, 10**12))  # fmt: skip
def test_parse_range_always_answers_inside_the_file(spec: str, size: int) -> None:
    result = parse_range(spec, size)
    if isinstance(result, ByteRange):
        assert 0 <= result.start <= result.end < size
    else:
        assert result is None or isinstance(result, RangeNotSatisfiable)


@FUZZ
@given(data=st.data())
async def test_query_and_path_integers_get_a_clear_answer(
    client: TestClient, logins: dict[Role, Login], data: st.DataObject
) -> None:
    value = data.draw(numbers)
    path, param = data.draw(st.sampled_from(INTEGER_PARAMS))
    resp = await client.get(path, params={param: value}, headers=logins[Role.SUPERVISOR].headers())
    event(str(resp.status))
    assert resp.status in (200, 400), f"{path}?{param}={value[:40]!r} -> {resp.status}"
    digit_path = data.draw(st.one_of(huge, st.integers(10**6, 2**70).map(str)))  # no such recording, or too big
    resp = await client.get(f"/recordings/{digit_path}/audio", headers=logins[Role.SUPERVISOR].headers())
    assert resp.status in (400, 404)


@FUZZ
@given(token=header_text, as_header=st.booleans(), role=st.sampled_from([None, Role.AGENT]))
async def test_any_csrf_token_is_refused_not_a_crash(
    client: TestClient, logins: dict[Role, Login], token: str, as_header: bool, role: Role | None
) -> None:
    headers = {} if role is None else logins[role].headers(csrf=False)
    if as_header:
        headers["X-CSRF-Token"] = token
        resp = await client.post("/api/desk/resume" if role else "/login", data={"name": "x"}, headers=headers)
    else:
        resp = await client.post("/leads/1/reactivate" if role else "/login", data={"csrf_token": token},
                                 headers=headers)  # fmt: skip
    assert resp.status == 403


@FUZZ
@given(range_header=st.one_of(header_text, st.tuples(numbers, numbers).map(lambda p: f"bytes={p[0]}-{p[1]}")))
async def test_any_range_header_is_served_or_refused(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, range_header: str
) -> None:
    resp = await client.get(
        f"/recordings/{data.own_recording}/audio",
        headers={**logins[Role.SUPERVISOR].headers(), "Range": range_header},
    )
    event(str(resp.status))
    # aiohttp's parser refuses a header line past 8,190 bytes (400) before the console sees it.
    assert resp.status in (200, 206, 416) or (resp.status == 400 and len(range_header) > 8190)


@FUZZ
@given(
    content_type=st.one_of(
        st.sampled_from(FORM_TYPES),
        header_text.map(lambda t: f"multipart/form-data; boundary={t}"),
    ),
    body=st.binary(max_size=300),
    path=st.sampled_from(["/login", "/lang", "/api/desk/resume"]),
)
async def test_any_form_body_gets_a_clear_answer(
    client: TestClient, logins: dict[Role, Login], content_type: str, body: bytes, path: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if path.startswith("/api/"):
        headers.update(logins[Role.AGENT].headers(csrf=False))
    resp = await client.post(path, data=body, headers=headers)
    event(str(resp.status))
    assert 400 <= resp.status < 500, f"{path} {content_type!r} {body[:60]!r} -> {resp.status}"


PROXIES = parse_networks(["10.0.0.2", "192.168.50.0/24"])


@given(headers=st.lists(st.one_of(header_text, st.lists(st.ip_addresses().map(str)).map(", ".join)), max_size=3))
def test_x_forwarded_for_never_lets_a_client_choose_its_address(headers: list[str]) -> None:
    """From a peer that is not a trusted proxy the header is ignored; from a proxy, the answer is the
    proxy or an address the header names, never text that is not an address."""
    assert client_address("203.0.113.9", headers, PROXIES) == "203.0.113.9"
    found = client_address("10.0.0.2", headers, PROXIES)
    assert found is not None
    assert found == "10.0.0.2" or any(found == hop.strip() for header in headers for hop in header.split(","))
    ipaddress.ip_address(found)
