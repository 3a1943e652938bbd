"""The store of the dealer's promotions and events (migration 0150)."""

from __future__ import annotations

from datetime import date, datetime

from dialer.domain.promotions.model import NewPromotion, Promotion, PromotionKind
from dialer.store.database import Database, Row
from dialer.timestamps import from_db, from_db_or_none, to_db

_COLUMNS = "id, kind, title, detail, starts_on, ends_on, created_by, created_at, ended_at"


class PromotionStore:
    """One row per promotion; ending one early stamps it, nothing is deleted."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, new: NewPromotion, by: str, at: datetime) -> Promotion:
        """Store a checked promotion."""
        async with self._db.write() as tx:
            row = await tx.fetchone(
                "INSERT INTO promotions (kind, title, detail, starts_on, ends_on, created_by, created_at)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (new.kind.value, new.title, new.detail, new.starts_on.isoformat(), new.ends_on.isoformat(), by,
                 to_db(at)),
            )  # fmt: skip
        assert row is not None, "INSERT ... RETURNING returns the row"
        return _promotion(row)

    async def running(self, day: date) -> list[Promotion]:
        """What runs on ``day``, events first, then by start."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_COLUMNS} FROM promotions WHERE ended_at IS NULL AND starts_on <= ? AND ends_on >= ?"
                " ORDER BY kind = 'offer', starts_on, id",
                (day.isoformat(), day.isoformat()),
            )
        return [_promotion(row) for row in rows]

    async def listed(self, since: date) -> list[Promotion]:
        """Everything not over before ``since``, upcoming and ended-early included, newest start first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_COLUMNS} FROM promotions WHERE ends_on >= ? ORDER BY starts_on DESC, id DESC",
                (since.isoformat(),),
            )
        return [_promotion(row) for row in rows]

    async def end(self, promotion_id: int, at: datetime) -> Promotion | None:
        """Take a promotion off now; None when there is no such promotion. Ending twice keeps the first time."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE promotions SET ended_at = COALESCE(ended_at, ?) WHERE id = ?", (to_db(at), promotion_id)
            )
            row = await tx.fetchone(f"SELECT {_COLUMNS} FROM promotions WHERE id = ?", (promotion_id,))
        return None if row is None else _promotion(row)


def _promotion(row: Row) -> Promotion:
    return Promotion(
        id=row["id"],
        kind=PromotionKind(row["kind"]),
        title=row["title"],
        detail=row["detail"],
        starts_on=date.fromisoformat(row["starts_on"]),
        ends_on=date.fromisoformat(row["ends_on"]),
        created_by=row["created_by"],
        created_at=from_db(row["created_at"]),
        ended_at=from_db_or_none(row["ended_at"]),
    )
