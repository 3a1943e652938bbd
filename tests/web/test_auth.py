"""Login, logout, throttling, CSRF and the session cookie's flags, through the real middleware."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient

from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.auth.errors import BadUserInput, LoginRefused
from dialer.domain.auth.passwords import ScryptCost, hash_password, needs_rehash, verify_password
from dialer.domain.auth.throttle import LoginThrottle, ThrottleRules
from dialer.web.app import create_app
from dialer.web.keys import AUTH, SETTINGS
from tests.web.conftest import CHEAP, PASSWORD, Login


async def _anon_csrf(client: TestClient) -> str:
    """Open the login page as a browser would; returns the token its form carries."""
    resp = await client.get("/login")
    assert resp.status == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert match
    return match.group(1)


async def _login(client: TestClient, name: str, password: str, **extra: str):
    token = await _anon_csrf(client)
    return await client.post("/login", data={"name": name, "password": password, "csrf_token": token, **extra},
                             allow_redirects=False)  # fmt: skip


async def test_login_sets_a_protected_session_cookie_and_lands_on_the_role_page(client: TestClient) -> None:
    resp = await _login(client, "zhang", PASSWORD)
    assert resp.status == 302
    assert resp.headers["Location"] == "/desk"
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("dcc_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test config turns it off for http://127.0.0.1
    desk = await client.get("/desk", allow_redirects=False)
    assert desk.status == 200
    assert 'id="who"' in await desk.text()


async def test_secure_flag_is_on_by_default(dialer_app, data, aiohttp_client, settings, clock) -> None:  # type: ignore[no-untyped-def]
    secure = dataclasses.replace(settings, web=dataclasses.replace(settings.web, cookie_secure=True))
    client = await aiohttp_client(create_app(secure, dialer=dialer_app, clock=clock))
    await client.app[AUTH].add_user("li", "supervisor", PASSWORD)
    form = await client.get("/login")
    csrf_cookie = next(v for v in form.headers.getall("Set-Cookie") if v.startswith("dcc_csrf="))
    assert "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie
    token = csrf_cookie.split(";", 1)[0].removeprefix("dcc_csrf=")
    # The test client does not send Secure cookies over http, so the browser's cookie is given by hand.
    resp = await client.post("/login", data={"name": "li", "password": PASSWORD, "csrf_token": token},
                             headers={"Cookie": f"dcc_csrf={token}"}, allow_redirects=False)  # fmt: skip
    assert resp.status == 302
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("dcc_session="))
    assert "Secure" in cookie


async def test_next_is_followed_only_inside_the_site(client: TestClient) -> None:
    resp = await _login(client, "li", PASSWORD, next="https://evil.example/")
    assert resp.headers["Location"] == "/desk"
    resp = await _login(client, "li", PASSWORD, next="/reports?month=2026-11")
    assert resp.headers["Location"] == "/reports?month=2026-11"


async def test_logout_kills_the_session_server_side(client: TestClient, logins: dict[Role, Login]) -> None:
    agent = logins[Role.AGENT]
    assert (await client.get("/api/me", headers=agent.headers())).status == 200
    resp = await client.post("/logout", headers=agent.headers(), allow_redirects=False)
    assert resp.status == 302
    # The same cookie value, replayed after logout, no longer works.
    again = await client.get("/api/me", headers=agent.headers())
    assert again.status == 401


async def test_wrong_password_is_refused_then_throttled(client: TestClient, clock: VirtualClock) -> None:
    for _ in range(2):  # login_free_failures = 2 in the test config
        resp = await _login(client, "zhang", "wrong password")
        assert resp.status == 401
        assert 'id="login-error"' in await resp.text()
    # The third failure is past the free ones: the answer already says how long to wait (4 s base delay).
    third = await _login(client, "zhang", "wrong password")
    assert third.status == 429
    assert third.headers["Retry-After"] == "4"
    # Locked: even the right password waits.
    locked = await _login(client, "zhang", PASSWORD)
    assert locked.status == 429
    clock.advance(3.0)
    assert (await _login(client, "zhang", PASSWORD)).status == 429
    clock.advance(4.5)
    assert (await _login(client, "zhang", PASSWORD)).status == 302


async def test_throttling_also_counts_per_address(client: TestClient) -> None:
    """Guessing across many names from one address is throttled too."""
    auth = client.app[AUTH]
    for name in ("nobody1", "nobody2", "nobody3"):
        with pytest.raises(LoginRefused):
            await auth.login(name, "x", "10.0.0.9")
    with pytest.raises(LoginRefused) as refused:
        await auth.login("li", PASSWORD, "10.0.0.9")
    assert refused.value.retry_after_s > 0
    assert (await auth.login("li", PASSWORD, "10.0.0.10")).user.name == "li"


async def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, logins: dict[Role, Login], data
) -> None:  # type: ignore[no-untyped-def]
    agent = logins[Role.AGENT]
    url = f"/api/leads/{data.own_lead}/disposition"
    body = {"disposition": "refused"}
    missing = await client.post(url, json=body, headers=agent.headers(csrf=False))
    assert missing.status == 403
    assert (await missing.json())["error"] == "csrf"
    wrong = await client.post(url, json=body, headers={**agent.headers(csrf=False), "X-CSRF-Token": "forged"})
    assert wrong.status == 403
    # Another user's valid token does not work for this session either.
    other = await client.post(
        url, json=body, headers={**agent.headers(csrf=False), "X-CSRF-Token": logins[Role.SUPERVISOR].csrf}
    )
    assert other.status == 403
    # Nothing was recorded by the refused requests.
    history = await client.get(f"/api/leads/{data.own_lead}", headers=agent.headers())
    assert not [e for e in (await history.json())["history"] if e["kind"] == "contact"]


async def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    await _anon_csrf(client)
    resp = await client.post("/login", data={"name": "zhang", "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 403


async def test_language_switch_sets_a_cookie_and_changes_the_page(client: TestClient) -> None:
    page = await client.get("/login")
    assert "登录" in await page.text()
    token = await _anon_csrf(client)
    resp = await client.post("/lang", data={"lang": "en", "next": "/login", "csrf_token": token}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/login"
    english = await client.get("/login")
    text = await english.text()
    assert "Log in" in text and 'lang="en"' in text


def test_password_hash_round_trip_and_rehash() -> None:
    stored = hash_password("s3cret-pass", CHEAP)
    assert stored.startswith("scrypt$4$8$1$")
    assert verify_password("s3cret-pass", stored)
    assert not verify_password("s3cret-pasS", stored)
    assert not verify_password("s3cret-pass", "garbage")
    assert needs_rehash(stored, ScryptCost(log2_n=5))
    assert not needs_rehash(stored, CHEAP)
    assert hash_password("s3cret-pass", CHEAP) != stored  # fresh salt every time


async def test_short_passwords_and_bad_names_are_refused(client: TestClient) -> None:
    auth = client.app[AUTH]
    with pytest.raises(BadUserInput, match="password"):
        await auth.add_user("new", "agent", "short")
    with pytest.raises(BadUserInput, match="name = 'a b'"):
        await auth.add_user("a b", "agent", PASSWORD)
    with pytest.raises(BadUserInput, match="role = 'boss'"):
        await auth.add_user("new", "boss", PASSWORD)


def test_throttle_delay_doubles_up_to_the_cap_and_is_forgiven_after_the_window() -> None:
    rules = ThrottleRules(free_failures=1, window_s=100.0, base_delay_s=2.0, max_delay_s=5.0)
    assert [rules.delay(n) for n in range(5)] == [0.0, 0.0, 2.0, 4.0, 5.0]
    assert rules.delay(10_000) == 5.0  # no 2**9999 on the way to the cap
    throttle = LoginThrottle(rules, rules)
    assert throttle.attempt("li", "10.0.0.1", 0.0) == 0.0
    assert throttle.attempt("li", "10.0.0.1", 0.0) == 0.0
    assert throttle.attempt("li", "10.0.0.1", 0.0) == pytest.approx(2.0)  # refused, not counted
    assert throttle.attempt("li", "10.0.0.1", 2.0) == 0.0
    assert throttle.wait("li", "10.0.0.1", 3.0) == pytest.approx(3.0)
    assert throttle.wait("li", "10.0.0.1", 200.0) == 0.0
    assert throttle.attempt("li", "10.0.0.1", 200.0) == 0.0
    assert throttle.wait("li", "10.0.0.1", 200.0) == 0.0  # forgiven: counting starts again


async def test_parallel_guesses_cannot_all_pass_the_throttle(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty logins at once: each is counted before its password is checked, so only the free few are
    checked and the right password sent last is refused like the guesses."""
    import dialer.auth.service as service_module

    checked = []
    real = service_module.verify_password

    def counting(password: str, stored: str) -> bool:
        checked.append(password)
        return real(password, stored)

    monkeypatch.setattr(service_module, "verify_password", counting)
    auth = client.app[AUTH]
    guesses = [f"guess-{i}" for i in range(19)] + [PASSWORD]
    results = await asyncio.gather(
        *(auth.login("li", p, f"10.0.1.{i}") for i, p in enumerate(guesses)), return_exceptions=True
    )
    assert all(isinstance(r, LoginRefused) for r in results)
    # Twenty addresses, one name: the name's own count (free failures across addresses) stops them.
    free = client.app[SETTINGS].web.login_name_free_failures
    assert len(checked) <= free + 1  # before: all 20 were checked and the 20th logged in


def test_a_right_password_takes_back_the_failure_its_attempt_counted() -> None:
    rules = ThrottleRules(free_failures=1, window_s=100.0, base_delay_s=2.0, max_delay_s=5.0)
    throttle = LoginThrottle(rules, rules)
    for _ in range(10):  # a whole office logging in through one address, every password right
        assert throttle.attempt("li", "10.0.0.1", 0.0) == 0
        throttle.succeeded("li", "10.0.0.1")
    assert throttle.wait("li", "10.0.0.1", 0.0) == 0
    assert throttle.attempt("x", "10.0.0.1", 0.0) == 0  # a wrong one counts from here
    assert throttle.attempt("y", "10.0.0.1", 0.0) == 0
    assert throttle.attempt("z", "10.0.0.1", 0.0) > 0  # two failures at the address: wait


def test_a_stranger_cannot_lock_a_name_out() -> None:
    """Failures for a name from one address lock that address out of that name; from elsewhere the
    name's own count only slows (at most the name-wide cap), and not at all from a known address."""
    full = ThrottleRules(free_failures=2, window_s=900.0, base_delay_s=2.0, max_delay_s=900.0)
    name_wide = ThrottleRules(free_failures=5, window_s=900.0, base_delay_s=2.0, max_delay_s=30.0)
    throttle = LoginThrottle(full, name_wide)
    assert throttle.attempt("li", "10.0.0.5", 0.0) == 0  # li at her desk, yesterday
    throttle.succeeded("li", "10.0.0.5")
    now = 1.0
    for _ in range(200):  # someone hammers li from 10.6.6.6 for hours, waiting out every delay
        now += throttle.wait("li", "10.6.6.6", now)
        assert throttle.attempt("li", "10.6.6.6", now) == 0
    assert throttle.wait("li", "10.6.6.6", now) == 900.0  # that address is locked out of li
    assert throttle.wait("li", "10.0.0.5", now) == 0.0  # li's desk: at once
    assert 0 < throttle.wait("li", "10.0.0.7", now) <= 30.0  # a new address: slowed, never locked
    assert throttle.wait("wang", "10.0.0.7", now) == 0.0  # nobody else is touched


def test_guessing_one_name_from_many_addresses_is_slowed() -> None:
    full = ThrottleRules(free_failures=2, window_s=900.0, base_delay_s=2.0, max_delay_s=900.0)
    name_wide = ThrottleRules(free_failures=5, window_s=900.0, base_delay_s=2.0, max_delay_s=30.0)
    throttle = LoginThrottle(full, name_wide)
    passed = [throttle.attempt("li", f"10.1.0.{i}", 0.0) == 0 for i in range(50)]
    assert sum(passed) == 6  # the name's 5 free failures and the one that starts the wait; then every address waits


@pytest.mark.parametrize("end", ["logout", "disable"])
async def test_an_open_websocket_closes_when_its_session_ends(  # type: ignore[no-untyped-def]
    dialer_app, data, aiohttp_client, settings, clock, end: str
) -> None:
    quick = dataclasses.replace(settings, web=dataclasses.replace(settings.web, socket_session_check_s=0.05))
    client = await aiohttp_client(create_app(quick, dialer=dialer_app, clock=clock))
    auth = client.app[AUTH]
    await auth.add_user("li", "supervisor", PASSWORD)
    session = await auth.login("li", PASSWORD, "10.0.0.1")
    async with client.ws_connect("/wallboard/ws", headers={"Cookie": f"dcc_session={session.token}"}) as ws:
        first = await ws.receive(timeout=10)
        assert first.type is WSMsgType.TEXT  # the wallboard streams
        await (auth.logout(session.token) if end == "logout" else auth.disable("li", actor="root"))
        closed = await ws.receive(timeout=5)
        while closed.type is WSMsgType.TEXT:  # a snapshot already on its way
            closed = await ws.receive(timeout=5)
        assert closed.type is WSMsgType.CLOSE and closed.data == WSCloseCode.POLICY_VIOLATION


async def test_wrong_passwords_from_elsewhere_do_not_lock_the_user_out(client: TestClient, clock: VirtualClock) -> None:
    """Through the service: a stranger's failures for "li" lock the stranger's address out; li signs in
    at once from her usual address and after at most login_name_max_delay_s from a new one (on main:
    locked out everywhere for login_max_delay_s)."""
    auth = client.app[AUTH]
    web = client.app[SETTINGS].web
    await auth.login("li", PASSWORD, "10.0.0.5")  # her desk
    wait = 0.0
    for _ in range(30):  # waiting out every delay, as a patient script would
        clock.advance(wait)
        with pytest.raises(LoginRefused) as refused:
            await auth.login("li", "guess", "10.6.6.6")
        wait = refused.value.retry_after_s
    with pytest.raises(LoginRefused) as stranger:
        await auth.login("li", PASSWORD, "10.6.6.6")
    assert stranger.value.retry_after_s == web.login_max_delay_s
    assert (await auth.login("li", PASSWORD, "10.0.0.5")).user.name == "li"
    with pytest.raises(LoginRefused) as new_place:
        await auth.login("li", PASSWORD, "10.0.0.7")
    assert 0 < new_place.value.retry_after_s <= web.login_name_max_delay_s
    clock.advance(new_place.value.retry_after_s)
    assert (await auth.login("li", PASSWORD, "10.0.0.7")).user.name == "li"
