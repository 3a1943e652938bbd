"""Where the lab keeps its files and which loopback ports each party uses.

One place derives every path and port from :class:`dialer.settings.Settings`, so
``lab up``, ``lab down``, ``lab status`` and the tests agree without passing paths
around. RTP policy: Asterisk takes the lower half of ``lab.rtp_start..rtp_end``; the
three SIPp parties and the inbound callers a test or simulator runs share the upper
half in equal blocks, so no two processes ever compete for a media port.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dialer.domain.pbx.phones import PhoneAccount
from dialer.domain.pbx.site import Site, Transport, Trunk, TrunkAuth, lab_browser_phones
from dialer.lab.pjsip import SipPlan
from dialer.settings import Settings

# Everything in the lab listens on loopback only.
LAB_HOST = "127.0.0.1"
# Asterisk needs these below the lab folder; it creates none of the db folder itself.
_PRIVATE_DIRS = ("etc", "db", "lib", "keys", "agi-bin", "spool", "run", "log", "sipp")
# At most this many agents' phones per SIPp process (more agents, more processes).
PHONES_PER_SIPP = 50
# A SIPp's SIP port and its control port (the SIP port plus one) side by side.
_PORTS_PER_SIPP = 2


class Party(StrEnum):
    """The simulated SIP parties the lab runs, one SIPp UAS each."""

    CUSTOMERS = "customers"
    AGENTS = "agents"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive range of UDP ports."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SippProcess:
    """One SIPp UAS of the lab: the party it plays, its name (log, state file), SIP port and first RTP port;
    for the agents, the numbers of the agents whose phones it plays (``agent<first>`` to ``agent<last>``)."""

    party: Party
    name: str
    port: int
    rtp_start: int
    first: int = 0
    last: int = 0


@dataclass(frozen=True, slots=True)
class LabLayout:
    """Absolute paths and ports of one lab, derived from the settings."""

    root: Path
    sip_port: int
    ami_port: int
    inbound_port: int
    party_ports: dict[Party, int]
    asterisk_rtp: PortRange
    party_rtp: dict[Party, PortRange]
    callers_rtp: PortRange
    recordings: Path
    customers_file: Path
    agent_phones: tuple[SippProcess, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> LabLayout:
        """Resolve the lab's folder, ports and RTP split from ``settings``."""
        lab = settings.lab
        start, end = lab.rtp_start, lab.rtp_end
        half = start + (end - start + 1) // 2
        parties = list(Party)
        # One block per party plus one for inbound callers (SIPp UACs on the inbound port).
        block = (end - half + 1) // (len(parties) + 1)
        blocks = [PortRange(half + i * block, half + (i + 1) * block - 1) for i in range(len(parties) + 1)]
        party_rtp = dict(zip(parties, blocks[: len(parties)], strict=True))  # the last block stays free
        return cls(
            root=settings.path(lab.dir).resolve(),
            sip_port=lab.sip_port,
            ami_port=settings.pbx.ami_port,
            inbound_port=lab.inbound_port,
            party_ports={
                Party.CUSTOMERS: lab.carrier_port,
                Party.AGENTS: lab.agents_port,
                Party.SUPERVISOR: lab.supervisor_port,
            },
            asterisk_rtp=PortRange(start, half - 1),
            party_rtp=party_rtp,
            callers_rtp=blocks[-1],
            recordings=settings.path(settings.recording.dir).resolve(),
            customers_file=settings.path(lab.customers_file).resolve(),
            agent_phones=_agent_phones(lab.agents, lab.agents_port, lab.supervisor_port, party_rtp[Party.AGENTS]),
        )

    def sipp(self, party: Party) -> tuple[SippProcess, ...]:
        """The SIPp processes that play ``party``: one for the customers and the supervisor, one per
        :data:`PHONES_PER_SIPP` agents for the agents."""
        if party is Party.AGENTS:
            return self.agent_phones
        return (SippProcess(party, party.value, self.party_ports[party], self.party_rtp[party].start),)

    def phone_port(self, endpoint: str, party: Party) -> int:
        """The SIP port of the SIPp playing ``endpoint``'s phone (``agent<n>`` or the supervisor)."""
        if party is Party.AGENTS:
            number = int(endpoint.removeprefix("agent"))
            return next(p.port for p in self.agent_phones if p.first <= number <= p.last)
        return self.party_ports[party]

    def dir(self, name: str) -> Path:
        """One of the lab's private folders (``etc``, ``run``, ``log``, ...)."""
        if name not in _PRIVATE_DIRS:
            raise ValueError(f"unknown lab folder {name!r}; known: {', '.join(_PRIVATE_DIRS)}")
        return self.root / name

    def make_dirs(self) -> None:
        """Create every private folder and the recordings folder (Asterisk would not)."""
        for name in _PRIVATE_DIRS:
            self.dir(name).mkdir(parents=True, exist_ok=True)
        self.recordings.mkdir(parents=True, exist_ok=True)

    @property
    def asterisk_conf(self) -> Path:
        """The rendered asterisk.conf; ``asterisk -C`` needs it as an absolute path."""
        return self.dir("etc") / "asterisk.conf"

    @property
    def control_socket(self) -> Path:
        """Appears when Asterisk accepts CLI commands: the first sign of a finished boot."""
        return self.dir("run") / "asterisk.ctl"

    @property
    def phones_file(self) -> Path:
        """The lab phones' accounts with their passwords (owner-only)."""
        return self.root / "phones.json"

    @property
    def state_file(self) -> Path:
        """PIDs and ports of a running lab, so ``down`` and ``status`` work from any process."""
        return self.root / "lab.json"

    def log_file(self, process: str) -> Path:
        """Where a lab process's stdout and stderr go."""
        return self.dir("log") / f"{process}.out"


def lab_sip_plan(settings: Settings, phones: tuple[PhoneAccount, ...]) -> SipPlan:
    """The lab as a site: everything on loopback, UDP only, no NAT; the carrier is the customers' SIPp,
    trusted by address (no credentials), with ``lab.did`` as its DID when set, and the inbound callers'
    SIPp port is the inbound trunk. ``lab.browser_phones`` register over plain ws on loopback."""
    layout = LabLayout.from_settings(settings)
    site = Site(
        address=LAB_HOST,
        transports=(Transport("udp", layout.sip_port),),
        rtp_start=layout.asterisk_rtp.start,
        rtp_end=layout.asterisk_rtp.end,
        local_networks=(f"{LAB_HOST}/32",),
        browser=lab_browser_phones(settings, LAB_HOST),
    )
    trunk = Trunk(
        endpoint=settings.pbx.carrier_endpoint,
        host=LAB_HOST,
        port=layout.party_ports[Party.CUSTOMERS],
        transport="udp",
        auth=TrunkAuth.IP,
        match=(f"{LAB_HOST}:{layout.inbound_port}",),
        from_domain=LAB_HOST,
        did=settings.lab.did,
    )
    return SipPlan(site, trunk, phones)


def _agent_phones(agents: int, port: int, below: int, rtp: PortRange) -> tuple[SippProcess, ...]:
    """The agents' SIPp processes: agents 1..``agents`` in runs of :data:`PHONES_PER_SIPP` (fewer
    processes, each with more phones, when their ports would reach ``below``, the supervisor's port)."""
    room = max(1, (below - port) // _PORTS_PER_SIPP) if below > port else 1
    count = min(room, max(1, -(-agents // PHONES_PER_SIPP)))
    per = max(1, -(-agents // count))
    share = (rtp.end - rtp.start + 1) // count // 2 * 2  # even: RTP on even ports, RTCP above
    return tuple(
        SippProcess(
            Party.AGENTS,
            Party.AGENTS.value if k == 0 else f"{Party.AGENTS.value}-{k + 1}",
            port + k * _PORTS_PER_SIPP,
            rtp.start + k * share,
            first=k * per + 1,
            last=min(agents, (k + 1) * per),
        )
        for k in range(count)
    )
