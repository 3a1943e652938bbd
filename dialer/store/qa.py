"""The store of QA scorings (migration 0051, docs/qa.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.qa.report import ScoredCall
from dialer.domain.qa.scoring import ItemScore, ScoreCard
from dialer.store.database import Database
from dialer.store.dealers import dealer_sql
from dialer.timestamps import from_db, to_db


class QaStore:
    """Scorings and their item values; a scoring and its items are written in one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, recording_id: int, agent: str | None, scorer: str, card: ScoreCard, comment: str, at: datetime
    ) -> ScoredCall:
        """Store one scoring with its item values; returns it as the report reads it."""
        async with self._db.write() as tx:
            score_id = await tx.insert(
                "INSERT INTO qa_scores (recording_id, agent, scorer, form_version, score, comment, scored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (recording_id, agent, scorer, card.form_version, card.score, comment, to_db(at)),
            )
            await tx.executemany(
                "INSERT INTO qa_score_items (score_id, item_id, value, max_value, weight) VALUES (?, ?, ?, ?, ?)",
                [(score_id, i.item_id, i.value, i.max_value, i.weight) for i in card.items],
            )
        return ScoredCall(score_id, recording_id, agent, scorer, card.score, at, card.form_version, card.items)

    async def between(
        self, since: datetime, until: datetime, agent: str | None = None, dealers: DealerScope = EVERY_DEALER
    ) -> list[ScoredCall]:
        """Every scoring made in [since, until) of the recordings ``dealers`` sees, optionally of one agent's
        calls, oldest first."""
        where = (
            "s.scored_at >= ? AND s.scored_at < ?"
            f" AND s.recording_id IN (SELECT r.id FROM recordings r WHERE {dealer_sql(dealers, 'r.dealer_id')})"
        )
        params: list[Any] = [to_db(since), to_db(until)]
        if agent is not None:
            where += " AND s.agent = ?"
            params.append(agent)
        return await self._load(where, params)

    async def for_recording(self, recording_id: int) -> list[ScoredCall]:
        """Every scoring of one recording, oldest first (calibration and appeals show all)."""
        return await self._load("s.recording_id = ?", [recording_id])

    async def _load(self, where: str, params: list[Any]) -> list[ScoredCall]:
        """Scorings matching ``where`` (on alias ``s``) with their items, read from one snapshot."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT s.id, s.recording_id, s.agent, s.scorer, s.score, s.scored_at, s.form_version"
                f" FROM qa_scores s WHERE {where} ORDER BY s.id",
                params,
            )
            items = await r.fetchall(
                "SELECT i.score_id, i.item_id, i.value, i.max_value, i.weight FROM qa_score_items i"
                f" JOIN qa_scores s ON s.id = i.score_id WHERE {where} ORDER BY i.score_id, i.item_id",
                params,
            )
        by_score: dict[int, list[ItemScore]] = defaultdict(list)
        for i in items:
            by_score[i["score_id"]].append(ItemScore(i["item_id"], i["value"], i["max_value"], i["weight"]))
        return [
            ScoredCall(row["id"], row["recording_id"], row["agent"], row["scorer"], row["score"],
                       from_db(row["scored_at"]), row["form_version"], tuple(by_score[row["id"]]))
            for row in rows
        ]  # fmt: skip
