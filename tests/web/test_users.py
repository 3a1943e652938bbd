"""A departing employee is shut out at once; a password is changed and the old sessions end; the
password rule refuses what a guesser tries first. Through the real CLI and the auth service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dialer.app import open_store
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.auth.errors import BadUserInput, LoginRefused
from dialer.domain.auth.passwords import check_new_password
from tests.conftest import START, write_config
from tests.web.conftest import CHEAP

OLD = "correct horse battery"
NEW = "staple orbit lantern"


def _run(cfg: Path, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with open_store(load(cfg, env={}), VirtualClock(START), password_cost=CHEAP) as app:
            return await work(app)

    return asyncio.run(go())


def test_disable_logs_out_everywhere_and_enable_lets_back_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)

    async def add_and_log_in(app):  # type: ignore[no-untyped-def]
        await app.auth.add_user("zhang.wei", "agent", OLD)
        return (await app.auth.login("zhang.wei", OLD, "10.0.0.5")).token

    token = _run(cfg, add_and_log_in)
    assert main(["--config", str(cfg), "users", "disable", "zhang.wei"]) == 0
    assert "已停用 zhang.wei" in capsys.readouterr().out

    async def after_disable(app):  # type: ignore[no-untyped-def]
        assert await app.auth.session(token) is None
        with pytest.raises(LoginRefused):
            await app.auth.login("zhang.wei", OLD, "10.0.0.6")

    _run(cfg, after_disable)
    assert main(["--config", str(cfg), "users", "enable", "zhang.wei"]) == 0
    _run(cfg, lambda app: app.auth.login("zhang.wei", OLD, "10.0.0.7"))
    assert main(["--config", str(cfg), "users", "disable", "nobody"]) == 2
    assert "no such user" in capsys.readouterr().err


def test_a_new_password_ends_the_old_sessions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path)

    async def add_and_log_in(app):  # type: ignore[no-untyped-def]
        await app.auth.add_user("li.na", "supervisor", OLD)
        return (await app.auth.login("li.na", OLD, "10.0.0.5")).token

    token = _run(cfg, add_and_log_in)
    monkeypatch.setenv("PW", "1111111111")
    assert main(["--config", str(cfg), "users", "passwd", "li.na", "--password-env", "PW"]) == 2
    assert "different characters" in capsys.readouterr().err
    monkeypatch.setenv("PW", NEW)
    assert main(["--config", str(cfg), "users", "passwd", "li.na", "--password-env", "PW"]) == 0

    async def after(app):  # type: ignore[no-untyped-def]
        assert await app.auth.session(token) is None
        with pytest.raises(LoginRefused):
            await app.auth.login("li.na", OLD, "10.0.0.8")
        assert (await app.auth.login("li.na", NEW, "10.0.0.9")).user.name == "li.na"

    _run(cfg, after)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "at least 10 characters"),
        ("12345678", "at least 10 characters"),
        ("        ", "at least 10 characters"),
        ("          ", "different characters"),
        ("aaaaaaaaaaaa", "different characters"),
        ("1234567890", "first a guesser tries"),
        ("Password123", "first a guesser tries"),
        ("zhang.wei2026", "first a guesser tries"),
    ],
)
def test_passwords_a_guesser_tries_first_are_refused(password: str, why: str) -> None:
    with pytest.raises(BadUserInput, match=why):
        check_new_password(password, "zhang.wei")


def test_a_passphrase_is_accepted_even_with_a_short_name_inside() -> None:
    check_new_password("reliable blue kettle", "li")
