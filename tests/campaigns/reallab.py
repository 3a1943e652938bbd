"""A lab of the campaign drills' own: ports shifted, each lead's number given a behaviour.

Used by the real-Asterisk campaign tests (a whole campaign, and the SIGKILL drill).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dialer.app import App
from dialer.lab.lab import Lab
from dialer.settings import CallSettings, Settings
from dialer.timestamps import from_db
from tests.conftest import settings_beside

# Ports of the drills' lab: the session lab's plus this.
PORT_OFFSET = 300


def number(i: int) -> str:
    """The i-th lead's mobile number."""
    return f"1390000{i:04d}"


@contextmanager
def campaign_lab(
    tmp: Path, behaviours: Sequence[tuple[str, int, int]], offset: int = PORT_OFFSET
) -> Iterator[tuple[Lab, Settings]]:
    """A running lab whose customer ``i`` behaves as ``behaviours[i]`` (behaviour, ring_s, talk_s),
    its ports the session lab's plus ``offset`` (another offset: another lab beside it)."""
    customers = tmp / "customers.csv"
    rows = ["SEQUENTIAL", *(f"{number(i)};{b};{ring};{talk}" for i, (b, ring, talk) in enumerate(behaviours))]
    customers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    base = settings_beside(tmp, offset, customers)
    settings = dataclasses.replace(
        base,
        pbx=dataclasses.replace(base.pbx, ring_timeout_s=5.0),
        calls=CallSettings(amd=False),  # AMD adds ~1.5 s per answered call; tested on its own elsewhere
    )
    lab = Lab(settings)
    lab.up()
    try:
        yield lab, settings
    finally:
        lab.down()


def leads_csv(path: Path, count: int, issued: str = "2026-11-30 08:00") -> Path:
    """An HQ lead file (the dealers' Chinese headers) with one lead per lab customer."""
    lines = ["姓名,手机,线索来源,下发时间", *(f"客户{i:03d},{number(i)},总部下发,{issued}" for i in range(count))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def until_lease_expired(app: App, pbx: str) -> None:
    """Wait until ``pbx``'s lease (a SIGKILLed node's, on PostgreSQL) has run out, so a new node for it may start.

    The dialer processes stamp their leases with the real clock; so does this wait.
    """
    for _ in range(400):
        async with app.db.read() as r:
            expires = await r.fetchval("SELECT expires_at FROM pbx_leases WHERE pbx = ?", (pbx,))
        if expires is None or from_db(expires) <= datetime.now(UTC):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pbx}'s lease never expired")
