"""Hold's mute on the room: Asterisk refuses the mute of a channel its ConfBridge has not counted yet, or
whose conference it has not set up yet (seen on loaded Asterisk 22 and 16, after the channel already ran
the ConfBridge application); those refusals are tried again within the join's bound, any other is not."""

from __future__ import annotations

import pytest

from dialer.ami.errors import AmiActionError
from dialer.telephony import transfer
from dialer.telephony.transfer import mute_when_member

NOT_YET = "No Channel by that name found in Conference."


class Room:
    """A ConfBridge that counts a channel as a member after ``joins_after`` refused mutes."""

    def __init__(self, joins_after: int, refusal: str = NOT_YET) -> None:
        self.joins_after, self.refusal = joins_after, refusal
        self.mutes: list[tuple[str, str, bool]] = []

    async def confbridge_mute(self, conference: str, channel: str, *, mute: bool) -> None:
        self.mutes.append((conference, channel, mute))
        if len(self.mutes) <= self.joins_after:
            raise AmiActionError("ConfbridgeMute", self.refusal)


@pytest.mark.parametrize(
    "refusal",
    [
        NOT_YET,
        # The conference is not set up yet: none at all (Asterisk 16 in CI, a 3-way call's hold right after
        # both channels ran ConfBridge), or only other calls' rooms.
        "No active conferences.",
        "No Conference by that name found.",
    ],
)
async def test_a_channel_not_yet_in_the_room_is_muted_once_it_has_joined(refusal: str) -> None:
    room = Room(joins_after=2, refusal=refusal)
    await mute_when_member(room, "call1", "PJSIP/agent1-0001", mute=True)  # type: ignore[arg-type]
    assert room.mutes == [("call1", "PJSIP/agent1-0001", True)] * 3


async def test_any_other_refusal_is_raised_at_once() -> None:
    room = Room(joins_after=1, refusal="No channel name provided.")
    with pytest.raises(AmiActionError, match="No channel name provided"):
        await mute_when_member(room, "call1", "PJSIP/agent1-0001", mute=False)  # type: ignore[arg-type]
    assert len(room.mutes) == 1


async def test_a_channel_that_never_joins_is_refused_after_the_join_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "JOIN_TIMEOUT_S", 0.25)
    room = Room(joins_after=1000)
    with pytest.raises(AmiActionError, match="No Channel by that name"):
        await mute_when_member(room, "call1", "PJSIP/agent1-0001", mute=True)  # type: ignore[arg-type]
    assert 2 <= len(room.mutes) <= 5
