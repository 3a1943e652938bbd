"""The second look that a periodic :class:`~dialer.ami.events.Reconciled` needs before a call is ended.

A snapshot after a reconnect follows a gap in the stream: whatever it does not list is gone. A
periodic one is taken on a live link, where a call's last Hangup may be in flight behind it, so a
service that follows calls ends a call such a snapshot misses only when, ``grace_s`` later (one
``pbx.action_timeout_s``: time for an event in flight to arrive and end it normally), the call is
still followed and a fresh ``CoreShowChannels`` misses it too. Even then the call's own machine has
the last word: one whose Hangup has come keeps waiting for the evidence of why (``CallVanished.on_live_link``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dialer.ami.errors import AmiError
from dialer.ami.events import ChannelInfo

Channels = tuple[ChannelInfo, ...]


async def gone_after_grace(
    grace_s: float,
    followed: Callable[[], bool],
    look: Callable[[], Awaitable[Channels]],
    listed: Callable[[Channels], bool],
) -> bool:
    """True when the call is still ``followed`` after ``grace_s`` and a fresh ``look`` has not ``listed`` it.

    A look that fails (the link went down) is False: the snapshot after the reconnect settles the call.
    """
    await asyncio.sleep(grace_s)
    if not followed():
        return False
    try:
        channels = await look()
    except AmiError:
        return False
    return followed() and not listed(channels)
