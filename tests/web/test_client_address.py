"""The client's address behind a reverse proxy: X-Forwarded-For is believed only from [web] trusted_proxies,
and only as far as trusted proxies wrote it (fuzzed in tests/fuzz/test_hostile_input.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.auth.errors import LoginRefused
from dialer.settings import Settings, problems
from dialer.web.app import create_app
from dialer.web.client_address import client_address, parse_networks
from dialer.web.keys import AUTH
from tests.web.conftest import PASSWORD

PROXIES = parse_networks(["10.0.0.2", "192.168.50.0/24", "::1"])


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("203.0.113.9", ["10.9.9.9"], "203.0.113.9"),  # not a proxy: the header is anyone's text
        ("10.0.0.2", [], "10.0.0.2"),  # a proxy that said nothing
        ("10.0.0.2", ["10.1.2.3"], "10.1.2.3"),
        ("10.0.0.2", ["6.6.6.6, 10.1.2.3"], "10.1.2.3"),  # the client's own claim stays out of reach
        ("10.0.0.2", ["6.6.6.6", "10.1.2.3, 192.168.50.7"], "10.1.2.3"),  # two proxies, two headers
        ("10.0.0.2", ["192.168.50.7, 192.168.50.8"], "192.168.50.7"),  # only proxies: the first of them
        ("10.0.0.2", ["10.1.2.3, unknown"], "10.0.0.2"),  # garbage: the last hop we can vouch for
        ("::1", ["2001:db8::7"], "2001:db8::7"),
        (None, ["10.1.2.3"], None),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str | None, headers: list[str], client: str | None
) -> None:
    assert client_address(peer, headers, PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("10.0.0.2", ["10.1.2.3"], ()) == "10.0.0.2"


def test_a_bad_trusted_proxy_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(base_dir=str(tmp_path))
    bad = dataclasses.replace(settings, web=dataclasses.replace(settings.web, trusted_proxies=("10.0.0.0/33",)))
    assert any("trusted_proxies" in p and "10.0.0.0/33" in p for p in problems(bad))


async def test_behind_a_trusted_proxy_each_user_has_their_own_address(  # type: ignore[no-untyped-def]
    dialer_app: App, data, aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings,
    clock: VirtualClock,
) -> None:  # fmt: skip
    """The test client connects from 127.0.0.1, here the proxy: a user who failed too often at one
    desk is throttled there, and a colleague behind the same proxy is not."""
    proxied = dataclasses.replace(settings, web=dataclasses.replace(settings.web, trusted_proxies=("127.0.0.1",)))
    client = await aiohttp_client(create_app(proxied, dialer=dialer_app, clock=clock))
    await client.app[AUTH].add_user("li", "supervisor", PASSWORD)
    await client.app[AUTH].add_user("wang", "qa", PASSWORD)

    async def login(name: str, password: str, desk: str) -> int:
        form = await client.get("/login", headers={"X-Forwarded-For": desk})
        match = re.search(r'name="csrf_token" value="([^"]+)"', await form.text())
        assert match
        token = match.group(1)
        resp = await client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                                 headers={"X-Forwarded-For": desk}, allow_redirects=False)  # fmt: skip
        return resp.status

    for _ in range(5):
        await login("nobody", "wrong", "10.1.0.1")  # failures across names: that desk's address waits
    assert await login("li", PASSWORD, "10.1.0.1") == 429
    assert await login("wang", PASSWORD, "10.1.0.2") == 302  # on main: 429, one shared address
    with pytest.raises(LoginRefused):  # the service saw the desk's address, not the proxy's
        await client.app[AUTH].login("li", PASSWORD, "10.1.0.1")
