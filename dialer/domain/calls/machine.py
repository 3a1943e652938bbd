"""The life of one outbound call, as an I/O-free state machine.

Fed :mod:`dialer.domain.calls.events` in the order the PBX reported them, it keeps the
call's state and answers with decisions for the service to carry out (record
progress, connect an agent, record the final outcome). It reads no clock of its
own: every instant comes from the events, so a recorded event sequence replays
to the same outcome in tests, in the simulator and against the real Asterisk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.domain.calls import events as ev
from dialer.domain.calls.classify import ORIGINATE_REASON_ANSWERED, cause_names_outcome, classify_unanswered
from dialer.domain.calls.outcome import CallState, Outcome


@dataclass(frozen=True, slots=True)
class CallRules:
    """The configurable thresholds that classify an answered call (from ``[calls]``)."""

    early_hangup_s: float = 2.0
    # The customer's wait for an agent, from the answer (the PBX's DCC_HOLD; AMD's time included).
    abandon_after_s: float = 2.0


@dataclass(frozen=True, slots=True)
class CallResult:
    """Everything the attempt record needs once the call is over."""

    outcome: Outcome
    ended_at: datetime
    answered_at: datetime | None = None
    connected_at: datetime | None = None
    agent: str | None = None
    hangup_cause: int | None = None
    dial_status: str | None = None
    recording: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CallDecision:
    """Base class of what the machine asks the service to do."""


@dataclass(frozen=True, slots=True)
class CallProgress(CallDecision):
    """The call moved to ``state``; persist it (times ride along for the record)."""

    state: CallState
    at: datetime
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectAgent(CallDecision):
    """Pick an agent and redirect ``channel`` to them, now: the abandon clock runs in the PBX.

    ``machine``: AMD said MACHINE. A free agent still takes the call (AMD misjudges short Mandarin
    greetings, and a hung-up person is a lost lead); only when nobody is free is the call ended
    at once, without the apology the PBX would otherwise play to a voicemail.
    """

    channel: str
    machine: bool = False


@dataclass(frozen=True, slots=True)
class AwaitEvidence(CallDecision):
    """Our channel hung up before anything said why: feed :class:`~dialer.domain.calls.events.EvidenceOverdue`
    if no OriginateResponse or customer-leg event arrives within the PBX's answer time.

    AMI does not order the legs' events: under load the Local;1 Hangup (cause 0 on a ring-out)
    can come before the OriginateResponse (Reason 3) and the carrier leg's DialEnd (CANCEL) that
    tell a ring-out from a failure. Deciding at once would call a ring-out ``failed``.
    """


@dataclass(frozen=True, slots=True)
class Finished(CallDecision):
    """The call is over; ``result`` is final."""

    result: CallResult


class CallMachine:
    """One call's state, outcome evidence and decisions.

    Evidence is collected as it comes (the customer leg's cause usually arrives
    before our own channel's hang-up) and the outcome is decided once, when the
    dialer's channel hangs up or the call otherwise can no longer progress.
    Events after the end are ignored, so duplicates from a replay are harmless.
    """

    def __init__(self, call_id: str, rules: CallRules | None = None) -> None:
        self.call_id = call_id
        self.rules = rules or CallRules()
        self.state = CallState.PENDING
        self.result: CallResult | None = None
        self._answered_at: datetime | None = None
        self._connected_at: datetime | None = None
        self._agent: str | None = None
        self._cause: int | None = None
        self._dial_status: str | None = None
        self._originate_reason: int | None = None
        self._amd: str | None = None
        self._abandoned = False
        self._line_limit = False
        self._recording: str | None = None
        self._customer_gone_at: datetime | None = None
        self._hung_up: tuple[datetime, int] | None = None  # our channel's hang-up, held until the evidence comes

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    def feed(self, event: ev.CallEvent) -> list[CallDecision]:
        """Apply one event; return what the service must do about it."""
        if self.ended:
            return []
        match event:
            case ev.OriginateSent(at=at):
                return self._move(CallState.ORIGINATING, at)
            case ev.OriginateRefused(at=at, reason=reason):
                return self._finish(at, Outcome.FAILED, detail=f"originate refused: {reason}")
            case ev.LineLimitReached():
                self._line_limit = True
            case ev.CustomerRinging(at=at):
                if self.state in (CallState.PENDING, CallState.ORIGINATING):
                    return self._move(CallState.RINGING, at)
            case ev.CustomerAnswered(at=at):
                return self._answer(at)
            case ev.CustomerDialEnded(at=at, status=status):
                self._dial_status = status
                if status.upper() == "ANSWER":
                    return self._answer(at)
                return self._decide_held()
            case ev.CustomerHungUp(at=at, cause=cause):
                if self._cause is None or self._answered_at is None:
                    self._cause = cause
                self._customer_gone_at = self._customer_gone_at or at
                return self._decide_held()
            case ev.MachineDetection(status=status):
                self._amd = status.upper()
            case ev.WaitingForAgent(at=at, channel=channel, hold_ms=hold_ms):
                if self._answered_at is None:
                    # The PBX's clock started at the answer: what it has left dates the answer.
                    waited = 0.0 if hold_ms is None else max(0.0, self.rules.abandon_after_s - hold_ms / 1000)
                    self._answered_at = at - timedelta(seconds=waited)
                if self._agent is None:
                    # Connect first: the customer's 2-second clock is running, the record can wait.
                    connect = ConnectAgent(channel, machine=self._amd == "MACHINE")
                    return [connect, *self._move(CallState.ANSWERED, self._answered_at)]
            case ev.AgentConnected(at=at, agent=agent):
                if self._connected_at is None and not self._abandoned:
                    self._connected_at = at
                    self._agent = agent
                    return self._move(CallState.CONNECTED, at, agent=agent)
            case ev.AgentFailed():
                pass  # the PBX's abandon timer still protects the customer
            case ev.AgentPhoneUnanswered(at=at, agent=agent, why=why):
                if self._answered_at is None:
                    return self._finish(at, Outcome.FAILED, detail=f"agent phone {agent} not answered ({why})")
            case ev.AbandonStarted():
                if self._connected_at is None:
                    self._abandoned = True
            case ev.RecordingStarted(path=path):
                self._recording = path
            case ev.OriginateFinished(at=at, success=success, reason=reason):
                self._originate_reason = reason
                if success and reason == ORIGINATE_REASON_ANSWERED:
                    return self._answer(at)
                return self._decide_held()
            case ev.EvidenceOverdue():
                return self._decide_held(overdue=True)
            case ev.CallHungUp(at=at, cause=cause):
                # Our own channel's cause mirrors the customer's when the customer leg's Hangup
                # has not arrived yet (AMI does not order the two legs' hang-ups).
                if self._hung_up is not None:
                    return []
                if self._answered_at is None and self._no_evidence(cause) and self.state is not CallState.PENDING:
                    self._hung_up = (at, cause)
                    return [AwaitEvidence()]
                if self._cause is None and self._answered_at is None:
                    self._cause = cause
                return self._finish(at, self._decide(at), own_cause=cause)
            case ev.CallVanished(at=at, on_live_link=live):
                if live and self._hung_up is not None:
                    # Our channel's hang-up came: the PBX dropping the call is no news, and the evidence
                    # may still be on its way. EvidenceOverdue bounds the wait, so the call still ends.
                    return []
                return self._finish(at, self._decide(at, vanished=True), detail="call vanished from the PBX")
        return []

    def _no_evidence(self, own_cause: int) -> bool:
        """Nothing yet tells why an unanswered call ended: no telling cause, no dial status, no Originate reason."""
        cause = self._cause if self._cause is not None else own_cause
        return (
            not (cause_names_outcome(cause) or self._line_limit)
            and self._dial_status is None
            and self._originate_reason is None
        )

    def _decide_held(self, *, overdue: bool = False) -> list[CallDecision]:
        """Our channel hung up earlier: decide once evidence came (or the wait is over)."""
        if self._hung_up is None or (not overdue and self._no_evidence(self._hung_up[1])):
            return []
        at, cause = self._hung_up
        if self._cause is None:
            self._cause = cause
        return self._finish(at, self._decide(at), own_cause=cause)

    def _answer(self, at: datetime) -> list[CallDecision]:
        if self._answered_at is not None:
            return []
        self._answered_at = at
        return self._move(CallState.ANSWERED, at)

    def _move(self, state: CallState, at: datetime, agent: str | None = None) -> list[CallDecision]:
        if state == self.state:
            return []
        self.state = state
        return [CallProgress(state, at, agent)]

    def _decide(self, at: datetime, vanished: bool = False) -> Outcome:
        if self._line_limit:
            return Outcome.FAILED
        if self._answered_at is None:
            if vanished:
                return Outcome.UNKNOWN
            return classify_unanswered(self._cause, self._dial_status, self._originate_reason)
        if self._connected_at is not None:
            return Outcome.ANSWERED
        if self._amd == "MACHINE":
            return Outcome.MACHINE
        if vanished:
            return Outcome.UNKNOWN
        if self._abandoned:
            return Outcome.ABANDONED
        gone = self._customer_gone_at or at
        if (gone - self._answered_at).total_seconds() <= self.rules.early_hangup_s:
            return Outcome.EARLY_HANGUP
        return Outcome.ABANDONED

    def _finish(
        self, at: datetime, outcome: Outcome, *, own_cause: int | None = None, detail: str | None = None
    ) -> list[CallDecision]:
        if self._line_limit:
            detail = "all outbound lines busy (PBX line limit)"
        elif detail is None and self._amd:
            detail = f"amd={self._amd}"
        self.state = CallState.ENDED
        self.result = CallResult(
            outcome=outcome,
            ended_at=at,
            answered_at=self._answered_at,
            connected_at=self._connected_at,
            agent=self._agent,
            hangup_cause=self._cause if self._cause is not None else own_cause,
            dial_status=self._dial_status,
            recording=self._recording if self._connected_at is not None else None,
            detail=detail,
        )
        return [Finished(self.result)]
