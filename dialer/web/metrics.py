"""Prometheus metrics: every metric the console exports is registered here, in one registry per app.

Counters of calls by outcome are read from the attempts table at scrape time (the table is the
durable truth, so a restart does not reset them); line use, the AMI link and abandonment come from
the wallboard's latest snapshot, so a scrape costs one small query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from dialer.calls.outcome import Outcome
from dialer.store.database import Database
from dialer.web.wallboard import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _CallsByOutcome(Collector):
    """``dialer_calls_total{outcome}``: ended attempts, from the last refresh of the attempts table."""

    def __init__(self) -> None:
        self.totals: Mapping[Outcome, int] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("dialer_calls", "Call attempts ended, by outcome", labels=["outcome"])
        for outcome in Outcome:
            family.add_metric([outcome.value], self.totals.get(outcome, 0))
        yield family


class Metrics:
    """The console's registry and its metrics; :meth:`render` refreshes and serializes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._calls = _CallsByOutcome()
        self.registry.register(self._calls)
        self.lines_in_use = Gauge("dialer_lines_in_use", "Calls in flight, by direction", ["direction"], registry=self.registry)
        self.lines = Gauge("dialer_lines", "Configured line limit, by direction", ["direction"], registry=self.registry)
        self.ami_up = Gauge("dialer_ami_connected", "1 if the AMI link is up, 0 if down (absent without AMI)", registry=self.registry)
        self.abandon_rate = Gauge("dialer_abandon_rate", "Abandoned over answered calls, by period", ["period"], registry=self.registry)
        self.overdue = Gauge("dialer_leads_overdue", "Leads past their follow-up deadline", registry=self.registry)
        self.viewers = Gauge("dialer_wallboard_viewers", "Wallboard websocket viewers connected", registry=self.registry)

    async def render(self, db: Database, snapshot: Snapshot, viewers: int) -> bytes:
        """The exposition text after refreshing every metric."""
        async with db.read() as r:
            rows = await r.fetchall("SELECT outcome, count(*) AS n FROM attempts WHERE outcome IS NOT NULL GROUP BY outcome")
        self._calls.totals = {Outcome(row["outcome"]): row["n"] for row in rows}
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
        return generate_latest(self.registry)
