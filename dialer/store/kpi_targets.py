"""The sales manager's monthly KPI targets (table ``kpi_targets``, docs/kpi.md "Monthly targets")."""

from __future__ import annotations

from datetime import datetime

from dialer.domain.kpi.metrics import Month
from dialer.domain.kpi.targets import TargetKpi
from dialer.store.database import Database
from dialer.timestamps import to_db


async def targets_of(db: Database, month: Month, dealer_id: int) -> dict[TargetKpi, float]:
    """The targets ``dealer_id`` set for ``month``."""
    async with db.read() as r:
        rows = await r.fetchall(
            "SELECT kpi, target FROM kpi_targets WHERE dealer_id = ? AND month = ?", (dealer_id, str(month))
        )
    return {TargetKpi(row["kpi"]): float(row["target"]) for row in rows}


async def set_target(
    db: Database, month: Month, kpi: TargetKpi, target: float | None, at: datetime, actor: str, dealer_id: int
) -> None:
    """Set (or, with None, clear) one KPI's target of ``dealer_id`` for ``month``."""
    async with db.write() as tx:
        if target is None:
            await tx.execute(
                "DELETE FROM kpi_targets WHERE dealer_id = ? AND month = ? AND kpi = ?",
                (dealer_id, str(month), kpi.value),
            )
            return
        await tx.execute(
            "INSERT INTO kpi_targets (month, kpi, target, set_by, set_at, dealer_id) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (dealer_id, month, kpi) DO UPDATE SET target = excluded.target, set_by = excluded.set_by,"
            " set_at = excluded.set_at",
            (str(month), kpi.value, target, actor, to_db(at), dealer_id),
        )
