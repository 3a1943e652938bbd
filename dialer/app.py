"""The composition root: the one place that builds the application from config.

No module keeps global state; everything a service needs is built here and
handed in, and every resource is closed in reverse order on the way out. Files
a dealer edits (the DOSS mapping, the QA form) are loaded and validated here, at
start-up, so a mistake stops the start instead of surfacing mid-campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dialer.ami.client import AmiClient
from dialer.ami.events import AmiEvent, Reconciled, UserEvent
from dialer.audit.service import AuditService
from dialer.auth.service import AuthService
from dialer.backup.service import BackupService
from dialer.campaigns.hopper import Hopper
from dialer.campaigns.manual import ManualCalls
from dialer.campaigns.presence import PresenceService
from dialer.campaigns.runner import CampaignRunner, WrapUpHandler
from dialer.campaigns.service import CampaignService
from dialer.clock import Clock, SystemClock
from dialer.domain.access.dealers import Dealer
from dialer.domain.auth.passwords import DEFAULT_COST, ScryptCost
from dialer.domain.doss.mapping import load_mapping
from dialer.domain.leads.errors import LeadError
from dialer.domain.qa.form import load_form
from dialer.domain.sms.errors import SmsError
from dialer.doss.service import DossService
from dialer.events.bus import EventBus
from dialer.inbound.queue import InboundQueue
from dialer.inbound.service import InboundService
from dialer.leads.service import LeadManager, LeadService
from dialer.logs import get_logger
from dialer.phones.service import PhoneService
from dialer.privacy.service import PrivacyService
from dialer.promotions.service import PromotionService
from dialer.qa.service import QaService
from dialer.recording.disk import DiskWatch
from dialer.recording.registry import RecordingRegistry, compressor_for
from dialer.settings import Settings
from dialer.sms.factory import build_driver, build_service
from dialer.sms.pbx import PbxDriver
from dialer.sms.service import ACTOR as SMS_ACTOR
from dialer.sms.service import SmsService
from dialer.store.attempts import AttemptStore
from dialer.store.audit import AuditStore
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database
from dialer.store.dealers import DealerStore
from dialer.store.doss import DossOutbox
from dialer.store.handovers import HandoverStore
from dialer.store.health import StoreHealth
from dialer.store.leases import NodeLease
from dialer.store.listen_ins import ListenInStore
from dialer.store.phones import PhoneStore
from dialer.store.presence import PresenceStore
from dialer.store.privacy import PrivacyStore
from dialer.store.process_lock import node_lock
from dialer.store.promotions import PromotionStore
from dialer.store.qa import QaStore
from dialer.store.recordings import RecordingStore
from dialer.store.suppressions import SuppressionStore
from dialer.store.totp import TotpStore
from dialer.store.users import UserStore
from dialer.supervisor.service import SupervisorService
from dialer.tasks import BackgroundTasks, TaskHealth, supervised
from dialer.telephony.calls import CallService
from dialer.telephony.transfer import Transfers

log = get_logger(__name__)

# Names of the supervised background tasks (logs, /metrics).
ROUTER = "ami-event-router"
DISK_WATCH = "recordings-disk-watch"
PBX_LEASE = "pbx-lease"


@dataclass(frozen=True, slots=True)
class App:
    """Everything a face (CLI, web) may use."""

    settings: Settings
    clock: Clock
    db: Database
    attempts: AttemptStore
    leads: LeadService
    doss: DossService
    recordings: RecordingRegistry
    recording_store: RecordingStore
    qa: QaService
    disk: DiskWatch
    campaign_store: CampaignStore
    hopper: Hopper
    campaigns: CampaignService
    bus: EventBus
    sms: SmsService
    presence: PresenceService
    health: TaskHealth
    audit: AuditService  # the hash-chained audit log every accountable action is written to
    auth: AuthService
    phones: PhoneService  # the phones' SIP accounts
    promotions: PromotionService  # the dealer's promotions and events, today's on the desk
    listen_ins: ListenInStore  # the listen-in audit, read by the faces
    manager: LeadManager  # the sales manager's decisions: transfers, re-activations
    backup: BackupService  # backups of the store and the recordings
    privacy: PrivacyService  # the suppression list as people edit it; a person's export, erasure; retention
    store_health: StoreHealth  # the database's server, schema, lease holders, standby (dialer doctor)
    dealer: Dealer  # this node's dealer ([dealer] code): what the node creates and dials is its
    dealers: DealerStore  # the group's dealers (docs/store.md "Dealers")
    ami: AmiClient | None = None
    calls: CallService | None = None
    manual_calls: ManualCalls | None = None  # a person's click-to-call, over ``calls``
    transfers: Transfers | None = None  # hold, transfer and 3-way of the calls ``calls`` follows
    inbound: InboundService | None = None
    supervisor: SupervisorService | None = None
    lease: NodeLease | None = None  # on PostgreSQL, this node's lease on its PBX (docs/store.md)
    # Set when the lease was lost and the PBX link closed: the PBX is another node's now, and the face
    # running this node stops it (docs/store.md, "Several nodes").
    pbx_lost: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: tuple[asyncio.Task[Any], ...] = field(default=())


@contextlib.asynccontextmanager
async def open_store(
    settings: Settings, clock: Clock | None = None, *, password_cost: ScryptCost = DEFAULT_COST
) -> AsyncIterator[App]:
    """The store and the services over it: for commands that never touch the PBX. ``password_cost``:
    the KDF cost of new password hashes (tests use a cheap one)."""
    clock = clock or SystemClock()
    mapping = load_mapping(settings.path(settings.doss.mapping_file))
    form = load_form(settings.path(settings.recording.qa_form))
    health = TaskHealth()  # the service's background tasks, the store's own among them
    db = await Database.open(settings.store_target(), clock=clock, health=health)
    try:
        dealers = DealerStore(db)
        dealer = await dealers.ensure(settings.dealer.code, settings.dealer.name, clock.now())
        attempts = AttemptStore(db, settings.pbx.name, dealer_id=dealer.id)
        leads = LeadService(db, settings, clock, dealer_id=dealer.id)
        recording_store = RecordingStore(db, dealer_id=dealer.id)
        bus = EventBus()
        campaign_store = CampaignStore(db, settings, dealer_id=dealer.id)
        # Late-bound: the DOSS service is built below and needs this one for its confirmations.
        sms = build_service(
            db,
            settings,
            clock,
            on_visit_declined=lambda lead_id, reply: _visit_declined(doss, lead_id, reply),
            dealer_id=dealer.id,
        )
        hopper = Hopper(campaign_store, settings)
        audit = AuditService(AuditStore(db), clock)
        registry = RecordingRegistry(
            store=recording_store,
            attempts=attempts,
            settings=settings,
            clock=clock,
            compressor=compressor_for(settings.recording),
        )
        doss = DossService(
            db,
            leads.store,
            DossOutbox(db, dealer_id=dealer.id),
            mapping,
            clock,
            on_visit_booked=lambda lead_id: _confirm_visit(sms, lead_id),
        )
        yield App(
            settings=settings,
            clock=clock,
            db=db,
            attempts=attempts,
            leads=leads,
            doss=doss,
            recordings=registry,
            recording_store=recording_store,
            qa=QaService(
                form=form,
                scores=QaStore(db),
                recordings=recording_store,
                clock=clock,
                timezone=settings.dealer.timezone,
            ),
            disk=DiskWatch(settings.recording, registry.root, clock),
            campaign_store=campaign_store,
            hopper=hopper,
            campaigns=CampaignService(campaign_store, hopper, settings, clock),
            audit=audit,
            auth=AuthService(
                UserStore(db),
                TotpStore(db),
                settings.web,
                clock,
                audit,
                password_cost,
                region=settings.dealer.region,
                dealer_id=dealer.id,
                dealer_code=dealer.code,
            ),
            phones=PhoneService(PhoneStore(db, dealer_id=dealer.id), clock),
            promotions=PromotionService(
                PromotionStore(db, dealer_id=dealer.id), clock, ZoneInfo(settings.dealer.timezone)
            ),
            listen_ins=ListenInStore(db, dealer_id=dealer.id),
            manager=LeadManager(db, leads, doss, clock, dealer_id=dealer.id),
            backup=BackupService(db, settings, clock),
            privacy=PrivacyService(
                SuppressionStore(db, dealer_id=dealer.id),
                PrivacyStore(db),
                leads.store,
                settings,
                clock,
                lambda recording_id, actor, reason: registry.delete(recording_id, actor=actor, reason=reason),
                audit,
            ),
            store_health=StoreHealth(db, settings),
            dealer=dealer,
            dealers=dealers,
            bus=bus,
            sms=sms,
            presence=PresenceService(
                PresenceStore(db, dealer_id=dealer.id), bus, clock, settings.campaigns.pause_reasons
            ),
            health=health,
        )
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    recover: bool = True,
    password_cost: ScryptCost = DEFAULT_COST,
) -> AsyncIterator[App]:
    """Store, AMI link and the telephony services, running; what a crash left in flight is reconciled.

    One task reads the AMI event stream (it allows one consumer) and hands every event to
    each telephony service; each keeps only the events of its own calls. One process per PBX:
    :class:`~dialer.store.process_lock.StoreInUse` when another live process has the link open
    (on SQLite the store's file lock; on PostgreSQL the PBX's lease, :class:`~dialer.store.leases.LeaseHeld`).
    """
    clock = clock or SystemClock()
    async with node_lock(settings):  # before the link: recover() must not touch another process's calls
        async with _open_app(settings, clock, recover, password_cost) as app:
            yield app


@contextlib.asynccontextmanager
async def _open_app(settings: Settings, clock: Clock, recover: bool, password_cost: ScryptCost) -> AsyncIterator[App]:
    async with open_store(settings, clock, password_cost=password_cost) as base:
        # Before the link: recover() below must not touch the calls of a node still driving this PBX.
        lease = (
            await NodeLease.take(base.db, settings.pbx.name, settings.store.lease_s, clock)
            if settings.store.url
            else None
        )
        client = AmiClient(settings.pbx, clock=clock, health=base.health)
        tasks: list[asyncio.Task[Any]] = []
        restores = BackgroundTasks()
        try:
            await client.start()
            pbx_lost = asyncio.Event()
            if lease is not None:
                held = lease
                tasks.append(
                    _task(supervised(PBX_LEASE, lambda: _hold_pbx(held, client, pbx_lost), base.health), PBX_LEASE)
                )
            base.disk.check()
            after_call = (base.recordings.register_finished,)
            calls = CallService(
                ami_client=client,
                attempts=base.attempts,
                settings=settings,
                clock=clock,
                after_call=after_call,
                recording_allowed=base.disk.recording_allowed,
            )
            inbound = InboundService(
                ami_client=client,
                attempts=base.attempts,
                leads=base.leads.store,
                bus=base.bus,
                settings=settings,
                clock=clock,
                recording_path=calls.recording_path,
                after_call=after_call,
                recording_allowed=base.disk.recording_allowed,
            )
            supervisor = SupervisorService(
                ami_client=client, store=base.listen_ins, audit=base.audit, settings=settings, clock=clock
            )
            # With the PBX, an agent's presence moves their inbound queue member too.
            presence = base.presence.with_queue(InboundQueue(client))
            routes: list[Callable[[AmiEvent], object]] = [
                calls.route, inbound.route, supervisor.route, queue_restorer(restores, presence),
            ]  # fmt: skip
            sms = base.sms
            if settings.sms.driver == "pbx":
                # SMS through the PBX: sent by MessageSend, received as the dialplan's DCCSms UserEvents.
                driver = PbxDriver(settings.sms, client)
                sms = build_service(
                    base.db,
                    settings,
                    clock,
                    driver,
                    on_visit_declined=base.sms.on_visit_declined,
                    dealer_id=base.dealer.id,
                )
                routes.append(lambda event: isinstance(event, UserEvent) and driver.feed(event))
            health = base.health
            tasks += [
                _task(supervised(ROUTER, lambda: _route_events(client, routes, health), health), ROUTER),
                _task(supervised(DISK_WATCH, base.disk.run, health), DISK_WATCH),
            ]
            if recover:
                await calls.recover()
                await supervisor.recover()
            manual_calls = ManualCalls(
                calls=calls, campaigns=base.campaign_store, leads=base.leads.store, presence=presence,
                settings=settings, clock=clock,
            )  # fmt: skip
            transfers = Transfers(
                ami_client=client, calls=calls, handovers=HandoverStore(base.db), clock=clock,
                ring_timeout_s=settings.calls.agent_answer_timeout_s,
            )  # fmt: skip
            yield dataclasses.replace(
                base,
                ami=client,
                calls=calls,
                manual_calls=manual_calls,
                transfers=transfers,
                inbound=inbound,
                supervisor=supervisor,
                sms=sms,
                presence=presence,
                lease=lease,
                pbx_lost=pbx_lost,
                tasks=tuple(tasks),
            )
            await manual_calls.close()
            await calls.drain()
            await inbound.drain()
            await supervisor.drain()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await restores.cancel()
            await client.close()
            if lease is not None:
                await lease.release()


async def _hold_pbx(lease: NodeLease, client: AmiClient, lost: asyncio.Event) -> None:
    """Keep this node's lease on its PBX; once it is lost, let go of the PBX at once.

    Lost means the lease ran out on this node's clock (the database unreachable, or the process
    paused) and another node may be reconciling the PBX's calls already: closing the AMI link makes
    sure no Originate or Redirect of this node reaches them, whatever a runner or a person asks.
    ``lost`` then tells the face to stop the node; a service manager starting it again finds the PBX
    held by the successor (refused, naming it) or free again (taken).
    """
    await lease.keep()
    log.error("node.pbx_lost", pbx=lease.pbx, node=lease.node, expired_at=lease.expires_at.isoformat())
    lost.set()
    await client.close()


async def _route_events(client: AmiClient, routes: Sequence[Callable[[AmiEvent], object]], health: TaskHealth) -> None:
    """Hand every AMI event to every route; a route that fails on one event is logged and counted,
    and every other route and event still goes through (one bad event must not stall all calls)."""
    async with contextlib.aclosing(client.events()) as events:  # closed at once: the next start consumes anew
        async for event in events:
            for route in routes:
                try:
                    route(event)
                except Exception:
                    health.failed(ROUTER)
                    log.exception("ami.route_failed", kind=type(event).__name__)


def queue_restorer(restores: BackgroundTasks, presence: PresenceService) -> Callable[[AmiEvent], None]:
    """The route that puts the inbound queue's members back after each link-up.

    Asterisk keeps queue members in memory only, so a (re)connect's snapshot (actions work again,
    the PBX may have restarted) restores them, in the background: the event reader must not wait
    for PBX commands. A periodic snapshot on a live link changes nothing there.
    """

    def route(event: AmiEvent) -> None:
        if isinstance(event, Reconciled) and not event.periodic:
            restores.spawn(_restore_queue(presence))

    return route


async def _restore_queue(presence: PresenceService) -> None:
    """Put the inbound queue's members back after a link-up; a failure waits for the next link-up."""
    try:
        await presence.restore_queue()
    except Exception:
        log.exception("presence.queue_restore_failed")


async def _confirm_visit(sms: SmsService, lead_id: int) -> None:
    """The handbook's step 3: SMS the booked visit to the customer and the consultant.

    Queued in the booking's own transaction; a refusal (the customer opted out of SMS, no
    mobile number) is logged and never undoes the booking.
    """
    try:
        await sms.confirm_visit(lead_id)
    except SmsError as exc:
        log.warning("sms.visit_confirmation_not_sent", lead_id=lead_id, reason=str(exc))


async def _visit_declined(doss: DossService, lead_id: int, reply: str) -> None:
    """A customer's "不需要" to a booked visit's SMS: the visit is called off through DOSS (state + outbox row).

    A lead that is no longer invited (visited or rebooked meanwhile) keeps its state; the reply is kept.
    """
    try:
        await doss.record_visit_declined(lead_id, SMS_ACTOR, reply)
    except LeadError as exc:
        log.warning("sms.visit_decline_ignored", lead_id=lead_id, reason=str(exc))


def _task(work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    return asyncio.create_task(work, name=name)


def sms_sender(app: App) -> SmsService:
    """An SMS service that sends: the outbox worker with the configured gateway driver (``[sms] driver``).

    With the PBX driver the App's own service already sends (it hears replies on the App's AMI link)."""
    if app.settings.sms.driver == "pbx" and app.ami is not None:
        return app.sms
    return build_service(
        app.db, app.settings, app.clock, build_driver(app.settings), on_visit_declined=app.sms.on_visit_declined
    )


def campaign_runner(app: App, campaign_id: int, *, on_wrap_up: WrapUpHandler | None = None) -> CampaignRunner:
    """A runner for one campaign over a running app (built with :func:`open_app`)."""
    if app.calls is None:
        raise RuntimeError("campaign_runner needs an app opened with open_app (PBX connected)")
    return CampaignRunner(
        campaign_id=campaign_id,
        campaigns=app.campaign_store,
        hopper=app.hopper,
        calls=app.calls,
        doss=app.doss,
        leads=app.leads.store,
        history=app.attempts,
        settings=app.settings,
        clock=app.clock,
        on_wrap_up=on_wrap_up,
        bus=app.bus,
        # An agent on a manual call reads as paused, so no campaign puts a customer through to them.
        presence=app.manual_calls or app.presence,
        lease=app.lease,
    )
