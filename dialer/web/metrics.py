"""Prometheus metrics: every metric the console exports is registered here, in one registry per app.

Counters of calls by outcome and the histogram of inbound waits are read from the attempts table
at scrape time (the table is the durable truth, so a restart does not reset them); line use, the
AMI link, abandonment, callers waiting and agents by state now come from the wallboard's latest snapshot, so a
scrape costs two small queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentState
from dialer.store.attempts import AttemptStore
from dialer.web.wallboard import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Upper bounds (seconds) of the inbound wait histogram: the handbook's "answer within three rings"
# (about 15 s, the owner's ring time) sits between 10 and 20; the queue gives up after 45 s by default.
INBOUND_WAIT_BUCKETS_S: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0)


class _CallsByOutcome(Collector):
    """``dialer_calls_total{outcome}``: ended attempts, from the last refresh of the attempts table."""

    def __init__(self) -> None:
        self.totals: Mapping[Outcome, int] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("dialer_calls", "Call attempts ended, by outcome", labels=["outcome"])
        for outcome in Outcome:
            family.add_metric([outcome.value], self.totals.get(outcome, 0))
        yield family


class _InboundWaits(Collector):
    """``dialer_inbound_queue_wait_seconds``: how long inbound callers an agent took had waited, all time."""

    def __init__(self) -> None:
        self.cumulative: tuple[int, ...] = (0,) * (len(INBOUND_WAIT_BUCKETS_S) + 1)  # per bucket, then +Inf
        self.sum_s = 0.0

    def collect(self) -> Iterator[Metric]:
        bounds = [*(str(b) for b in INBOUND_WAIT_BUCKETS_S), "+Inf"]
        yield HistogramMetricFamily(
            "dialer_inbound_queue_wait_seconds",
            "Wait of inbound callers until an agent took the call (own agent ringing, then the queue)",
            buckets=list(zip(bounds, self.cumulative, strict=True)),
            sum_value=self.sum_s,
        )


class _BackgroundFailures(Collector):
    """``dialer_background_failures_total{task}``: background work that died of an exception (the task
    restarted, or the one event it was handling skipped); any rise deserves a look at the log."""

    def __init__(self) -> None:
        self.failures: Mapping[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "dialer_background_failures",
            "Background task failures (logged, then restarted or skipped)",
            labels=["task"],
        )
        for task, count in sorted(self.failures.items()):
            family.add_metric([task], count)
        yield family


class Metrics:
    """The console's registry and its metrics; :meth:`render` refreshes and serializes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._calls = _CallsByOutcome()
        self.registry.register(self._calls)
        self._inbound_waits = _InboundWaits()
        self.registry.register(self._inbound_waits)
        self._failures = _BackgroundFailures()
        self.registry.register(self._failures)
        self.lines_in_use = Gauge(
            "dialer_lines_in_use", "Calls in flight, by direction", ["direction"], registry=self.registry
        )
        self.lines = Gauge("dialer_lines", "Configured line limit, by direction", ["direction"], registry=self.registry)
        self.ami_up = Gauge(
            "dialer_ami_connected", "1 if the AMI link is up, 0 if down (absent without AMI)", registry=self.registry
        )
        self.abandon_rate = Gauge(
            "dialer_abandon_rate", "Abandoned over answered calls, by period", ["period"], registry=self.registry
        )
        self.overdue = Gauge("dialer_leads_overdue", "Leads past their follow-up deadline", registry=self.registry)
        self.viewers = Gauge(
            "dialer_wallboard_viewers", "Wallboard websocket viewers connected", registry=self.registry
        )
        self.inbound_waiting = Gauge(
            "dialer_inbound_waiting", "Inbound callers waiting for an agent now", registry=self.registry
        )
        self.agents = Gauge("dialer_agents", "Agents by working state (available, on_call, wrap_up, paused, logged_out)", ["state"],
                            registry=self.registry)  # fmt: skip
        self.inbound_longest_wait = Gauge(
            "dialer_inbound_longest_wait_seconds",
            "Longest wait of the inbound callers waiting now (0: nobody waits)",
            registry=self.registry,
        )

    async def render(
        self, attempts: AttemptStore, snapshot: Snapshot, viewers: int, failures: Mapping[str, int]
    ) -> bytes:
        """The exposition text after refreshing every metric."""
        self._failures.failures = failures
        self._calls.totals = await attempts.outcomes()
        histogram = self._inbound_waits
        histogram.cumulative, histogram.sum_s = await attempts.inbound_wait_buckets(INBOUND_WAIT_BUCKETS_S)
        self.lines_in_use.labels("outbound").set(snapshot.outbound_in_use)
        self.lines_in_use.labels("inbound").set(snapshot.inbound_in_use)
        self.lines.labels("outbound").set(snapshot.outbound_lines)
        self.lines.labels("inbound").set(snapshot.inbound_lines)
        if snapshot.ami_connected is not None:
            self.ami_up.set(1 if snapshot.ami_connected else 0)
        self.abandon_rate.labels("today").set(snapshot.abandon_today.rate)
        self.abandon_rate.labels("rolling").set(snapshot.abandon_30d.rate)
        self.overdue.set(snapshot.overdue_leads)
        self.viewers.set(viewers)
        waits = snapshot.inbound_waits
        self.inbound_waiting.set(waits.waiting)
        self.inbound_longest_wait.set(waits.longest_wait_s or 0)
        for state in AgentState:  # every state, zeros included, so a dashboard's series never vanish
            self.agents.labels(state.value).set(sum(1 for a in snapshot.agents if a.state is state))
        return generate_latest(self.registry)
