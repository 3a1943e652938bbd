"""What ``dialer doctor`` says about the database: server, migrations applied against shipped, the
nodes' PBX leases and a configured standby (what can be checked without a real standby)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dialer.cli.doctor import Check, diagnose
from dialer.clock import VirtualClock
from dialer.settings import PbxSettings, Settings, StoreSettings, UiSettings, problems
from dialer.store.database import Database
from dialer.store.health import StoreHealth
from dialer.store.leases import NodeLease
from tests.conftest import POSTGRESQL_ONLY, REPO, free_port


def settings_for(target: str | Path, **store: str) -> Settings:
    url = target if isinstance(target, str) else ""
    return Settings(
        base_dir=str(REPO),
        store=StoreSettings(path=str(target) if not url else "var/unused.sqlite3", url=url, **store),
        pbx=PbxSettings(ami_port=free_port()),  # no PBX: the doctor's AMI checks fail, its store checks run
        ui=UiSettings(language="en"),
    )


async def test_the_schema_report_names_the_server_and_compares_migrations(
    db: Database, store_target: str | Path
) -> None:
    health = StoreHealth(db, settings_for(store_target))
    report = await health.schema()
    assert report.server.startswith("PostgreSQL 1" if isinstance(store_target, str) else "SQLite 3.")
    assert report.applied == report.shipped and "0170_pbx_leases" in report.shipped
    assert report.unknown == report.missing == ()
    async with db.write() as tx:  # as a newer dialer would leave it
        await tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (9999, 'from_the_future', 'x', 'y')"
        )
    assert (await health.schema()).unknown == ("9999_from_the_future",)
    assert await health.standby() is None  # none configured


async def checks(settings: Settings, clock: VirtualClock) -> dict[str, Check]:
    return {c.name: c for c in await diagnose(settings, clock)}


@POSTGRESQL_ONLY
async def test_doctor_lists_lease_holders_and_warns_of_an_expired_lease(
    store_target: str | Path, clock: VirtualClock
) -> None:
    assert isinstance(store_target, str)  # leases are a PostgreSQL group's
    settings = settings_for(store_target)
    found = await checks(settings, clock)
    assert found["no dialer node holds a PBX lease right now"].ok
    async with await Database.open(store_target, clock=clock) as db:
        await NodeLease.take(db, "site-01", 30, clock, node="host-a/101")
        clock.advance(10)
        await NodeLease.take(db, "site-02", 30, clock, node="host-b/202")
    clock.advance(25)  # site-01's lease has run out, site-02's has not
    found = await checks(settings, clock)
    zone = settings.dealer.timezone
    assert zone == "Asia/Shanghai"
    site1 = next(c for name, c in found.items() if name.startswith("PBX site-01: driven by node host-a/101"))
    site2 = next(c for name, c in found.items() if name.startswith("PBX site-02: driven by node host-b/202"))
    assert site1.ok and site1.warning and "has expired" in site1.fix
    assert site2.ok and not site2.warning
    migrations = next(c for name, c in found.items() if name.startswith("schema: "))
    assert migrations.ok and "migrations applied" in migrations.name
    assert any(name.startswith("database server PostgreSQL 1") for name in found)


@POSTGRESQL_ONLY
async def test_doctor_checks_a_configured_standby(store_target: str | Path, clock: VirtualClock) -> None:
    assert isinstance(store_target, str)  # a standby is a PostgreSQL group's
    # The primary given as its own standby: reachable, but not replaying anything.
    found = await checks(settings_for(store_target, standby_url=store_target), clock)
    (standby,) = [c for name, c in found.items() if name.startswith("standby ")]
    assert not standby.ok and "is not replaying the primary (pg_is_in_recovery() is false)" in standby.fix
    # Nothing listens there.
    nowhere = f"postgresql://dialer@127.0.0.1:{free_port()}/dialer"
    found = await checks(settings_for(store_target, standby_url=nowhere), clock)
    (standby,) = [c for name, c in found.items() if name.startswith("standby ")]
    assert not standby.ok and standby.fix.startswith("cannot reach the standby")
    assert "127.0.0.1" in standby.name


def test_a_standby_url_is_checked_like_the_primarys() -> None:
    primary = "postgresql://dialer@db1:5432/dialer"
    assert problems(Settings(store=StoreSettings(url=primary, standby_url="postgresql://dialer@db2:5432/dialer"))) == []
    assert problems(Settings(store=StoreSettings(url=primary, standby_url="mysql://db2/dialer"))) == [
        "store.standby_url = 'mysql://db2/dialer': must start with postgresql:// (empty: the SQLite file store.path)"
    ]
    assert problems(Settings(store=StoreSettings(standby_url="postgresql://dialer@db2:5432/dialer"))) == [
        "store.standby_url: a standby of what? set store.url (the primary) too"
    ]
    assert "password" not in repr(dataclasses.replace(StoreSettings(), standby_url="postgresql://u:password@h/d"))
