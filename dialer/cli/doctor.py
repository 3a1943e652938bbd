"""``dialer doctor``: check that the PBX and this machine give the dialer what it needs.

Each check says in plain words what is wrong and how to fix it; the exit code is
the number of problems (0 = ready to dial).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dialer.ami import events as ami_events
from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiAuthError, AmiError
from dialer.app import open_store
from dialer.cli.output import print_json
from dialer.clock import Clock
from dialer.domain.access.dealers import DealerScope
from dialer.domain.pbx.phones import PhoneAccount
from dialer.domain.pbx.requirements import REQUIRED_MODULES
from dialer.domain.pbx.site import TrunkAuth, nat_findings
from dialer.domain.pbx.versions import AsteriskVersion, Support, VersionError
from dialer.i18n import translate
from dialer.settings import Settings
from dialer.telephony.calls import AGENT_CONTEXT, ANSWERED_CONTEXT, OUTBOUND_CONTEXT

REQUIRED_ACTIONS = ("Originate", "Redirect", "Hangup", "Setvar", "Getvar", "CoreShowChannels", "Ping", "UserEvent")
REQUIRED_CONTEXTS = (OUTBOUND_CONTEXT, ANSWERED_CONTEXT, AGENT_CONTEXT, "dcc-abandon")
EVENT_PROBE_TIMEOUT_S = 3.0
# A standby further behind than this would lose that much of the group's work on a failover.
REPLICATION_LAG_WARN_S = 30.0

Translate = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, and the fix when it failed.

    A ``warning`` passed (the dialer works) but says what to plan, e.g. an Asterisk past its end of life.
    """

    name: str
    ok: bool
    fix: str = ""
    warning: bool = False


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check AMI login and permissions, modules, dialplan, line limits, folders")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=run)


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    checks = await diagnose(cfg, args.clock)
    lang = cfg.ui.language
    if args.json:
        print_json([{"check": c.name, "ok": c.ok, "warning": c.warning, "fix": c.fix} for c in checks])
    else:
        for c in checks:
            mark = translate("doctor.problem" if not c.ok else "doctor.warning" if c.warning else "doctor.ok", lang)
            print(f"[{mark}] {c.name}" + (f"\n        {c.fix}" if c.fix else ""))
        bad = sum(not c.ok for c in checks)
        print(translate("doctor.summary_ok", lang) if not bad else translate("doctor.summary_bad", lang, count=bad))
    return min(sum(not c.ok for c in checks), 100)


async def diagnose(cfg: Settings, clock: Clock) -> list[Check]:
    """Run every check; a failed AMI login skips only the checks that need AMI."""
    lang = cfg.ui.language

    def t(key: str, **kw: object) -> str:
        return translate(key, lang, **kw)

    checks = [*await _check_store(cfg, clock, t), _check_recording(cfg, t)]
    # A dealer's site (a [site] section): its NAT settings, the trunk's registration, every phone's.
    site = bool(cfg.site.address)
    if site:
        checks.append(_check_nat(cfg, t))
    # A diagnosis reports what answers now: one connect, no periodic snapshots.
    pbx = dataclasses.replace(cfg.pbx, first_connect_retry_s=0.0, reconcile_interval_s=0.0)
    name = t("doctor.check.ami", user=pbx.ami_user, host=pbx.ami_host, port=pbx.ami_port)
    client = AmiClient(pbx)
    try:
        await client.start()
    except AmiAuthError as exc:
        return [*checks, Check(name, False, t("doctor.fix.ami_auth", error=exc))]
    except AmiError as exc:
        return [*checks, Check(name, False, t("doctor.fix.ami_connect", error=exc))]
    try:
        checks.append(Check(name, True))
        checks.append(await _check_version(client, clock, t))
        checks.append(await _check_actions(client, t))
        checks.append(await _check_events(client, t))
        checks.extend([await _check_module(client, m, t) for m in REQUIRED_MODULES])
        checks.extend([await _check_context(client, c, t) for c in REQUIRED_CONTEXTS])
        checks.append(await _check_line_limit(client, "DCC_OUT_LINES", pbx.outbound_lines, t))
        checks.append(await _check_line_limit(client, "DCC_IN_LINES", pbx.inbound_lines, t))
        if site:
            if TrunkAuth(cfg.trunk.auth) is TrunkAuth.REGISTER:
                checks.append(await _check_trunk_registration(client, cfg, t))
            checks.extend(await _check_phones(client, cfg, clock, t))
    finally:
        await client.close()
    return checks


async def _check_store(cfg: Settings, clock: Clock, t: Translate) -> list[Check]:
    """The store opens; its server; its migrations against this node's; on PostgreSQL the nodes'
    leases and, when one is configured, the streaming standby (docs/store.md)."""
    path = cfg.store_shown()
    try:
        async with open_store(cfg, clock) as app:
            schema = await app.store_health.schema()
            leases = await app.store_health.leases()
            standby = await app.store_health.standby()
    except Exception as exc:  # any failure here is the finding itself
        return [Check(t("doctor.check.store", path=path), False, t("doctor.fix.store", error=exc))]
    checks = [
        Check(t("doctor.check.store", path=path), True),
        Check(t("doctor.check.server", server=schema.server), True),
    ]
    name = t("doctor.check.migrations", applied=len(schema.applied), shipped=len(schema.shipped))
    if schema.unknown:
        checks.append(Check(name, False, t("doctor.fix.migrations_newer", names=", ".join(schema.unknown))))
    elif schema.missing:
        checks.append(Check(name, False, t("doctor.fix.migrations_missing", names=", ".join(schema.missing))))
    else:
        checks.append(Check(name, True))
    if cfg.store.url:
        zone = ZoneInfo(cfg.dealer.timezone)
        if not leases:
            checks.append(Check(t("doctor.check.no_leases"), True))
        for lease in leases:
            until = lease.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            expired = lease.expires_at <= clock.now()
            fix = t("doctor.fix.lease_expired", pbx=lease.pbx) if expired else ""
            checks.append(
                Check(t("doctor.check.lease", pbx=lease.pbx, node=lease.node, until=until), True, fix, warning=expired)
            )
    if standby is None:
        return checks
    name = t("doctor.check.standby", target=standby.target)
    if standby.error:
        return [*checks, Check(name, False, t("doctor.fix.standby_unreachable", error=standby.error))]
    if not standby.in_recovery:
        return [*checks, Check(name, False, t("doctor.fix.standby_not_replaying"))]
    if not standby.streaming:
        return [*checks, Check(name, False, t("doctor.fix.standby_not_streaming"))]
    name = t(
        "doctor.check.standby_lag", target=standby.target, lag="?" if standby.lag_s is None else f"{standby.lag_s:.1f}"
    )
    if standby.lag_s is not None and standby.lag_s > REPLICATION_LAG_WARN_S:
        return [*checks, Check(name, True, t("doctor.fix.standby_lag", limit=REPLICATION_LAG_WARN_S), warning=True)]
    return [*checks, Check(name, True)]


def _check_recording(cfg: Settings, t: Translate) -> Check:
    path = cfg.path(cfg.recording.dir).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        return Check(t("doctor.check.recording", path=path), False, t("doctor.fix.recording", error=exc))
    return Check(t("doctor.check.recording", path=path), True)


async def _check_version(client: AmiClient, clock: Clock, t: Translate) -> Check:
    try:
        reply = await client.action("CoreSettings")
        text = (reply[0] if isinstance(reply, list) else reply).get("AsteriskVersion")
        version = AsteriskVersion.parse(text)
    except (AmiError, VersionError) as exc:
        return Check(t("doctor.check.version_unknown"), False, t("doctor.fix.version_unknown", error=exc))
    name = t("doctor.check.version", version=version.short)
    lifetime = version.lifetime()
    match version.support(clock.now().date()):
        case Support.END_OF_LIFE:
            since = lifetime.end_of_life.isoformat() if lifetime else "?"
            return Check(name, True, t("doctor.fix.version_eol", major=version.major, since=since), warning=True)
        case Support.SECURITY_ONLY:
            until = lifetime.end_of_life.isoformat() if lifetime else "?"
            return Check(name, True, t("doctor.fix.version_security", major=version.major, until=until), warning=True)
    return Check(name, True)


async def _check_actions(client: AmiClient, t: Translate) -> Check:
    allowed = await client.allowed_actions()
    missing = [a for a in REQUIRED_ACTIONS if a.lower() not in allowed]
    return Check(
        t("doctor.check.actions"), not missing, t("doctor.fix.actions", missing=", ".join(missing)) if missing else ""
    )


async def _check_events(client: AmiClient, t: Translate) -> Check:
    """Raise a UserEvent through AMI and wait to hear it back: proves read permission end to end."""
    token = uuid.uuid4().hex

    async def heard() -> None:
        async for event in client.events():
            if isinstance(event, ami_events.UserEvent) and event.get("Token") == token:
                return

    listener = asyncio.create_task(heard())
    try:
        await client.action("UserEvent", UserEvent="DCCDoctor", Token=token)
        async with asyncio.timeout(EVENT_PROBE_TIMEOUT_S):
            await listener
    except (TimeoutError, AmiError):
        return Check(t("doctor.check.events"), False, t("doctor.fix.events", timeout=EVENT_PROBE_TIMEOUT_S))
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return Check(t("doctor.check.events"), True)


async def _check_module(client: AmiClient, module: str, t: Translate) -> Check:
    try:
        await client.action("ModuleCheck", Module=module)
    except AmiError:
        return Check(t("doctor.check.module", module=module), False, t("doctor.fix.module", module=module))
    return Check(t("doctor.check.module", module=module), True)


async def _check_context(client: AmiClient, context: str, t: Translate) -> Check:
    # ShowDialPlan needs the 'config' read class the dialer's AMI user does not get; the CLI
    # command runs under 'command', which the dialer needs anyway.
    try:
        found = f"'{context}'" in await client.command(f"dialplan show {context}")
    except AmiError:
        found = False
    if not found:
        return Check(t("doctor.check.context", context=context), False, t("doctor.fix.context", context=context))
    return Check(t("doctor.check.context", context=context), True)


async def _check_line_limit(client: AmiClient, name: str, expected: int, t: Translate) -> Check:
    try:
        actual = await client.getvar(name)
    except AmiError as exc:
        actual = str(exc)
    ok = actual.strip() == str(expected)
    return Check(
        t("doctor.check.lines", name=name, expected=expected),
        ok,
        "" if ok else t("doctor.fix.lines", actual=f"{name}={actual!r}"),
    )


def _check_nat(cfg: Settings, t: Translate) -> Check:
    findings = nat_findings(cfg.site, cfg.trunk)
    fixes = [
        t(
            f"doctor.fix.nat.{f.value}",
            address=cfg.site.address,
            carrier=cfg.trunk.host,
            external=cfg.site.external_address,
        )
        for f in findings
    ]
    return Check(t("doctor.check.nat", address=cfg.site.address), not fixes, " ".join(fixes))


async def _check_trunk_registration(client: AmiClient, cfg: Settings, t: Translate) -> Check:
    """The PBX's registration to the carrier, as ``pjsip show registrations`` reports it."""
    name = t("doctor.check.trunk_registration", host=cfg.trunk.host, port=cfg.trunk.port)
    try:
        output = await client.command("pjsip show registrations")
    except AmiError as exc:
        return Check(name, False, t("doctor.fix.pjsip_command", error=exc))
    found = re.search(rf"^\s*{re.escape(cfg.pbx.carrier_endpoint)}-reg/\S+\s+\S+\s+(\w+)", output, re.MULTILINE)
    if found is None:
        return Check(name, False, t("doctor.fix.trunk_missing"))
    status = found.group(1)
    if status == "Registered":
        return Check(name, True)
    key = "doctor.fix.trunk_rejected" if status == "Rejected" else "doctor.fix.trunk_unregistered"
    return Check(name, False, t(key, status=status, host=cfg.trunk.host, port=cfg.trunk.port))


async def _check_phones(client: AmiClient, cfg: Settings, clock: Clock, t: Translate) -> list[Check]:
    """One line per phone account: registered (has a contact) or not, and what to do."""
    try:
        async with open_store(cfg, clock) as app:
            accounts: list[PhoneAccount] = await app.phones.accounts(DealerScope.of(app.dealer.id))
    except Exception as exc:  # the store check above already names it
        return [Check(t("doctor.check.phones"), False, t("doctor.fix.store", error=exc))]
    if not accounts:
        return [Check(t("doctor.check.phones"), False, t("doctor.fix.no_phones"))]
    try:
        output = await client.command("pjsip show contacts")
    except AmiError as exc:
        return [Check(t("doctor.check.phones"), False, t("doctor.fix.pjsip_command", error=exc))]
    registered = set(re.findall(r"^\s*Contact:\s+([a-z][a-z0-9]*)/sip:", output, re.MULTILINE))
    server = f"{cfg.site.address}:{cfg.site.sip_port}"
    return [
        Check(
            t("doctor.check.phone", endpoint=a.endpoint),
            a.endpoint in registered,
            "" if a.endpoint in registered else t("doctor.fix.phone", endpoint=a.endpoint, server=server),
        )
        for a in accounts
    ]
