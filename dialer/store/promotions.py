"""The store of the dealer's promotions and events (migration 0150)."""

from __future__ import annotations

from datetime import date, datetime

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.promotions.model import NewPromotion, Promotion, PromotionKind
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.timestamps import from_db, from_db_or_none, to_db

_COLUMNS = "id, kind, title, detail, starts_on, ends_on, created_by, created_at, ended_at"


class PromotionStore:
    """One row per promotion; ending one early stamps it, nothing is deleted."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose a promotion is unless told."""
        self._db = db
        self._dealer_id = dealer_id

    async def add(self, new: NewPromotion, by: str, at: datetime, dealer_id: int | None = None) -> Promotion:
        """Store a checked promotion of ``dealer_id`` (None: this node's dealer)."""
        async with self._db.write() as tx:
            row = await tx.fetchone(
                "INSERT INTO promotions (kind, title, detail, starts_on, ends_on, created_by, created_at, dealer_id)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (new.kind.value, new.title, new.detail, new.starts_on.isoformat(), new.ends_on.isoformat(), by,
                 to_db(at), self._dealer_id if dealer_id is None else dealer_id),
            )  # fmt: skip
        assert row is not None, "INSERT ... RETURNING returns the row"
        return _promotion(row)

    async def running(self, day: date, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]:
        """What runs on ``day`` at the dealers ``dealers`` sees, events first, then by start."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_COLUMNS} FROM promotions WHERE ended_at IS NULL AND starts_on <= ? AND ends_on >= ?"
                f" AND {dealer_sql(dealers, 'dealer_id')}"
                " ORDER BY kind = 'offer', starts_on, id",
                (day.isoformat(), day.isoformat()),
            )
        return [_promotion(row) for row in rows]

    async def listed(self, since: date, dealers: DealerScope = EVERY_DEALER) -> list[Promotion]:
        """Everything not over before ``since`` (``dealers``'), upcoming and ended-early included, newest start first."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_COLUMNS} FROM promotions WHERE ends_on >= ? AND {dealer_sql(dealers, 'dealer_id')}"
                " ORDER BY starts_on DESC, id DESC",
                (since.isoformat(),),
            )
        return [_promotion(row) for row in rows]

    async def end(self, promotion_id: int, at: datetime, dealers: DealerScope = EVERY_DEALER) -> Promotion | None:
        """Take a promotion off now; None when there is no such promotion (``dealers`` sees). Ending twice keeps
        the first time."""
        mine = dealer_sql(dealers, "dealer_id")
        async with self._db.write() as tx:
            await tx.execute(
                f"UPDATE promotions SET ended_at = COALESCE(ended_at, ?) WHERE id = ? AND {mine}",
                (to_db(at), promotion_id),
            )
            row = await tx.fetchone(f"SELECT {_COLUMNS} FROM promotions WHERE id = ? AND {mine}", (promotion_id,))
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
