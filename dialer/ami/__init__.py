"""Our AMI layer: the only place in the dialer that talks to panoramisk.

``dialer.ami.client.AmiClient`` drives Asterisk (actions, Originate) and yields
typed events; ``codec`` is the sans-IO wire parser; ``events`` the typed events;
``errors`` the failures. This package namespace re-exports only the pure parts,
so code that merely reads events (the call model, the simulator) can import them
without pulling in panoramisk; import the client from ``dialer.ami.client``.
"""

from dialer.ami.codec import Banner, Message, MessageKind, Parser
from dialer.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectError,
    AmiConnectTimeout,
    AmiError,
    AmiLinkDown,
    AmiTimeout,
)
from dialer.ami.events import (
    AmiEvent,
    BridgeEnter,
    BridgeLeave,
    ChannelEvent,
    ChannelInfo,
    DialBegin,
    DialEnd,
    FullyBooted,
    Hangup,
    Hold,
    LinkDown,
    LinkUp,
    Newchannel,
    Newstate,
    OriginateResponse,
    RawEvent,
    Reconciled,
    Unhold,
    UserEvent,
    VarSet,
)

__all__ = [
    "AmiActionError",
    "AmiAuthError",
    "AmiConnectError",
    "AmiConnectTimeout",
    "AmiError",
    "AmiEvent",
    "AmiLinkDown",
    "AmiTimeout",
    "Banner",
    "BridgeEnter",
    "BridgeLeave",
    "ChannelEvent",
    "ChannelInfo",
    "DialBegin",
    "DialEnd",
    "FullyBooted",
    "Hangup",
    "Hold",
    "LinkDown",
    "LinkUp",
    "Message",
    "MessageKind",
    "Newchannel",
    "Newstate",
    "OriginateResponse",
    "Parser",
    "RawEvent",
    "Reconciled",
    "Unhold",
    "UserEvent",
    "VarSet",
]
