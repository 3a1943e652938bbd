"""One process: the PBX link, the campaign runners and the web console, together.

Why one process: preview campaigns need a person's click to reach the runner that holds the
offer (:mod:`dialer.campaigns.registry`), and the console should show and steer the campaigns that
actually dial. :func:`serve` opens the dialer :class:`~dialer.app.App` with the AMI link, one
:class:`RunnerRegistry` registry, the console over both, and binds it to an address.

A watcher (``watch_campaigns``) looks at the campaigns every :data:`WATCH_INTERVAL_S` and starts a
runner for each one that is running or paused (a runner also serves a paused campaign: it keeps
its agents and dials again on resume) and has none here. So ``dialer campaign start ID`` from
another terminal, or a start from the console, takes effect without restarting anything. A
runner that ends (campaign completed or stopped) is forgotten; one that crashes is logged and
started again on the next look, never two at once for one campaign.

**One process per store.** Only one process may talk to the PBX for one store (two would run
the same campaign twice, route the same inbound callers and settle each other's calls in flight):
:func:`~dialer.app.open_app` holds the store's PBX lock (dialer/store/process_lock.py), so a second
``dialer web``, ``dialer campaign run`` or ``dialer call`` on the same store is refused with
:class:`~dialer.store.process_lock.StoreInUse` naming the process that has it. With
``sms_worker`` the service also runs the SMS worker, so nothing else needs the PBX link.

Leaving :func:`serve` stops the watcher, cancels the runners, lets the SMS worker finish its message (a cancelled runner is like a crash:
on the next start ``CallService.recover`` and ``Hopper.recover`` settle what was in flight, and no
lead is dialled twice), closes the console's site and then the App.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from dialer.app import App, campaign_runner, open_app, sms_sender
from dialer.backup import daily
from dialer.campaigns.registry import RunnerRegistry
from dialer.campaigns.runner import CampaignRunner, RunSummary, WrapUp, settle_unfiled_talks
from dialer.clock import Clock
from dialer.domain.access.dealers import DealerScope
from dialer.domain.auth.passwords import DEFAULT_COST, ScryptCost
from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.store.errors import StoreError
from dialer.tasks import supervised
from dialer.web.app import create_app

log = get_logger(__name__)

OnWrapUp = Callable[[CampaignRunner, WrapUp], Coroutine[Any, Any, None]]

# How often the watcher looks for campaigns started elsewhere: a start takes effect within this.
WATCH_INTERVAL_S = 2.0
# The daily privacy retention's task name in logs and /metrics.
RETENTION = "privacy-retention"
# Campaigns that need a runner: a paused one keeps its runner, so resume dials at once.
_SERVED = (CampaignStatus.RUNNING, CampaignStatus.PAUSED)


class Server:
    """A running :func:`serve`: the App, its runners, the console and where it answers."""

    def __init__(
        self, app: App, runners: RunnerRegistry, web_app: web.Application, url: str, on_wrap_up: OnWrapUp | None
    ) -> None:
        self.app = app
        self.runners = runners
        self.web = web_app
        self.url = url
        self._on_wrap_up = on_wrap_up
        self._tasks: dict[int, asyncio.Task[RunSummary]] = {}

    def run_campaign(self, campaign_id: int, on_wrap_up: OnWrapUp | None = None) -> asyncio.Task[RunSummary]:
        """Start a runner for ``campaign_id`` now, registered in :attr:`runners` while it runs.

        ``on_wrap_up`` (default: the one given to :func:`serve`) files the agents' dispositions
        when no person does (the lab's simulated desk). :class:`CampaignError` when this process
        already runs the campaign: a second runner would dial its leads twice.
        """
        handler = on_wrap_up or self._on_wrap_up
        runner: CampaignRunner
        runner = campaign_runner(
            self.app, campaign_id, on_wrap_up=None if handler is None else (lambda wrap: handler(runner, wrap))
        )
        self.runners.add(runner)  # raises before anything starts when one already runs
        task = asyncio.create_task(self._run(runner), name=f"campaign-runner-{campaign_id}")
        self._tasks[campaign_id] = task
        task.add_done_callback(lambda done: self._ended(campaign_id, done))
        return task

    def running(self, campaign_id: int) -> asyncio.Task[RunSummary] | None:
        """The task of the runner serving ``campaign_id`` here (whoever started it), or None."""
        return self._tasks.get(campaign_id)

    async def _run(self, runner: CampaignRunner) -> RunSummary:
        try:
            return await runner.run()
        finally:
            self.runners.remove(runner.campaign_id)

    def _ended(self, campaign_id: int, task: asyncio.Task[RunSummary]) -> None:
        if self._tasks.get(campaign_id) is task:
            del self._tasks[campaign_id]
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            # The watcher starts the campaign's runner again on its next look (it is still served).
            self.app.health.failed("campaign-runner")
            log.error("server.runner_crashed", campaign_id=campaign_id, exc_info=error)
        else:
            summary = task.result()
            log.info(
                "server.runner_ended", campaign_id=campaign_id, status=summary.status.value, dialled=summary.dialled
            )

    async def watch(self, interval_s: float) -> None:
        """Start a runner for every served campaign without one, every ``interval_s``, until cancelled."""
        while True:
            try:
                records = await self.app.campaigns.all(DealerScope.of(self.app.dealer.id))  # this node's dealer's
            except StoreError as exc:
                # A store hiccup: look again next time instead of leaving campaigns unserved for good.
                log.error("server.watch_failed", error=repr(exc))
                records = []
            for record in records:
                if record.status in _SERVED and record.id not in self._tasks and self.runners.get(record.id) is None:
                    log.info("server.runner_starting", campaign_id=record.id, status=record.status.value)
                    self.run_campaign(record.id)
            await asyncio.sleep(interval_s)

    async def stop_runners(self) -> None:
        """Cancel every runner and wait until each has ended (its calls' tasks included)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def serve(
    settings: Settings,
    *,
    clock: Clock | None = None,
    password_cost: ScryptCost = DEFAULT_COST,
    host: str | None = None,
    port: int | None = None,
    watch_campaigns: bool = True,
    on_wrap_up: OnWrapUp | None = None,
    watch_interval_s: float = WATCH_INTERVAL_S,
    sms_worker: bool = False,
) -> AsyncIterator[Server]:
    """The PBX link, the campaign runners and the console, until the block ends.

    ``host``/``port`` default to ``[web]``; port 0 binds a free port (:attr:`Server.url` says
    which). ``on_wrap_up`` is given to the runners the watcher starts. ``sms_worker``: also send the SMS
    outbox and take replies and the repurchase cadence (``dialer sms run``'s work) in this process.
    The daily backup (``[backup] time``, dialer/backup/daily.py) and the privacy retention
    (``[privacy] retention_time``) run here too.
    :class:`~dialer.store.process_lock.StoreInUse` when another live dialer process holds the store.
    """
    async with open_app(settings, clock, password_cost=password_cost) as app:
        # Nothing runs yet: every campaign's talk still waiting for its form was left by a stopped process.
        await settle_unfiled_talks(app.campaign_store, app.leads.store, None)
        runners = RunnerRegistry()
        console = create_app(settings, dialer=app, runners=runners)
        async with bind(console, host or settings.web.host, settings.web.port if port is None else port) as url:
            server = Server(app, runners, console, url, on_wrap_up)
            log.info("server.started", url=url, watch_campaigns=watch_campaigns, sms_worker=sms_worker)
            watcher = (
                asyncio.create_task(
                    supervised("campaign-watcher", lambda: server.watch(watch_interval_s), app.health),
                    name="campaign-watcher",
                )
                if watch_campaigns
                else None
            )
            sms_stop = asyncio.Event()
            sms_task = None
            if sms_worker:
                sms = sms_sender(app)
                sms_task = asyncio.create_task(
                    supervised("sms-worker", lambda: sms.run(sms_stop, app.health), app.health), name="sms-worker"
                )
            # A PostgreSQL store is backed up with the server's own tools (docs/store.md), not by the dialer.
            backups = None if settings.store.url else asyncio.create_task(
                supervised(daily.TASK, lambda: daily.run_daily(app.backup.create, settings.backup.time,
                           settings.dealer.timezone, app.clock, app.health), app.health),
                name="backup-daily",
            )  # fmt: skip
            retention = asyncio.create_task(
                supervised(RETENTION, lambda: daily.run_daily(app.privacy.apply_retention,
                           settings.privacy.retention_time, settings.dealer.timezone, app.clock, app.health,
                           RETENTION), app.health),
                name=RETENTION,
            )  # fmt: skip
            try:
                yield server
            finally:
                for daily_task in (backups, retention):
                    if daily_task is not None:
                        daily_task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await daily_task
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                await server.stop_runners()
                if sms_task is not None:
                    sms_stop.set()  # the worker finishes the message in hand, then returns
                    await sms_task
                log.info("server.stopped")


@contextlib.asynccontextmanager
async def bind(console: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``console`` on ``host``:``port`` (0: a free port) for the block; yields its ``http://`` URL.

    The console's cleanup contexts run on the way in and out, as with ``web.run_app``.
    """
    site_runner = web.AppRunner(console, access_log=None)
    await site_runner.setup()
    try:
        site = web.TCPSite(site_runner, host, port)
        await site.start()
        yield _url(site_runner.addresses[0])
    finally:
        await site_runner.cleanup()


def _url(address: object) -> str:
    """``http://host:port`` from an aiohttp bound address (a (host, port, ...) tuple for TCP)."""
    assert isinstance(address, tuple), f"the console is not bound to a TCP address: {address!r}"
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
