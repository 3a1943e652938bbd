"""The agent ends a real-PBX call once it has talked a little, for tests whose checks are settled by the connect.

The lab's customers talk as customers.csv says (the greeting customers 20 s, the voicemail 30 s, 13800000001
6 s); a test that needs the call connected, recorded and ended, not the whole talk, has the agent hang up
after :data:`AGENT_TALKS_S`, as an agent ends a call. The customers' behaviour is left as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dialer.app import App

# Long enough for the recording to hold audio (an empty one is removed, never registered).
AGENT_TALKS_S = 2.0
# Bounds a hang only; nothing is measured.
LIMIT_S = 60.0


async def agent_hangs_up_once_talked(app: App, call_id: str, gone: Callable[[], bool] | None = None) -> None:
    """Once ``call_id`` is connected and has talked :data:`AGENT_TALKS_S`, hang up the agent's channel; return
    at once if ``gone()`` (by default: the call service no longer follows the call) says the call ended without
    being connected (the test's checks then say why)."""
    assert app.calls is not None and app.ami is not None
    calls = app.calls
    gone = gone or (lambda: call_id not in {c.call_id for c in calls.live()})
    async with asyncio.timeout(LIMIT_S):
        while (parties := app.calls.parties(call_id)) is None:
            if gone():
                return
            await asyncio.sleep(0.1)
    await asyncio.sleep(AGENT_TALKS_S)
    _, agent_uniqueid, _ = parties
    for channel in await app.ami.core_show_channels():
        if channel.uniqueid == agent_uniqueid:
            await app.ami.hangup(channel.channel)
