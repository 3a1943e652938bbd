"""Push the outbox to the dealer's DOSS bridge over HTTP: at-least-once, with an idempotency key.

The only importer of aiohttp's client in the DOSS package. One POST per change,
oldest first and in order per lead, body = the :class:`~dialer.domain.doss.outbox.DossRecord`
as JSON, header ``Idempotency-Key`` = the row's key (fixed when the change was
recorded, the same on every retry).

Why at-least-once: the worker marks a row delivered only after the receiver's
2xx, in a separate transaction. A crash between the two means the change is
sent again after the restart, with the same key; the receiver must drop a key it
has already accepted (and answer 2xx), which makes the repeat harmless.
Exactly-once across two systems without a shared transaction is not on offer;
this is the honest version of it.

Answers: 2xx delivered; 4xx other than 408/429 dead at once (the request itself
is wrong, sending it again will not help); 5xx, 408, 429, timeouts and connection
errors retry with exponential backoff and jitter, dead after ``max_attempts`` tries.
Time and sleeping come in from outside so tests run an hour of outage in milliseconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from dialer.clock import Clock
from dialer.domain.doss.errors import DossError
from dialer.domain.doss.outbox import OutboxEntry, Verdict, backoff_s, verdict_for_status
from dialer.logs import get_logger
from dialer.settings import DossSettings
from dialer.store.doss import DossOutbox

log = get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# How much of a refusing receiver's answer is kept in last_error.
_BODY_EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one pass over the due rows did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def tried(self) -> int:
        return self.delivered + self.retried + self.dead


class PushWorker:
    """Drains the outbox to ``settings.endpoint``; see the module docstring for the contract."""

    def __init__(
        self,
        outbox: DossOutbox,
        settings: DossSettings,
        clock: Clock,
        session: aiohttp.ClientSession,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not settings.endpoint:
            raise DossError("doss.endpoint is not set: nothing to push to (use 'dialer doss export' instead)")
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._session = session
        self._sleep = sleep
        self._rand = rand

    async def run_once(self) -> RoundReport:
        """Try every row due now (up to ``batch_size``), one after the other."""
        delivered = retried = dead = 0
        for entry in await self._outbox.due(self._clock.now(), self._settings.batch_size):
            verdict = await self._deliver(entry)
            delivered += verdict is Verdict.DELIVERED
            retried += verdict is Verdict.RETRY
            dead += verdict is Verdict.DEAD
        return RoundReport(delivered, retried, dead)

    async def run(self, stop: asyncio.Event) -> None:
        """Push until ``stop`` is set, sleeping until the next row is due (at most ``idle_poll_s``)."""
        while not stop.is_set():
            if (await self.run_once()).tried:
                continue
            next_due = await self._outbox.next_due_at()
            wait = self._settings.idle_poll_s
            if next_due is not None:
                wait = min(wait, max(0.0, (next_due - self._clock.now()).total_seconds()))
            await self._sleep(wait)

    async def _deliver(self, entry: OutboxEntry) -> Verdict:
        error = await self._post(entry)
        now = self._clock.now()
        if error is None:
            await self._outbox.mark_delivered(entry.id, now)
            log.info("doss.push_delivered", outbox_id=entry.id, lead_id=entry.record.lead.id, tries=entry.attempts + 1)
            return Verdict.DELIVERED
        verdict, reason = error
        failures = entry.attempts + 1
        if verdict is Verdict.RETRY and failures < self._settings.max_attempts:
            delay = backoff_s(failures, self._settings.backoff_base_s, self._settings.backoff_max_s, self._rand)
            await self._outbox.mark_failed(entry.id, reason, now + timedelta(seconds=delay))
            log.warning("doss.push_retry", outbox_id=entry.id, tries=failures, retry_in_s=round(delay, 1), error=reason)
            return Verdict.RETRY
        await self._outbox.mark_failed(entry.id, reason, None)
        log.error("doss.push_dead", outbox_id=entry.id, lead_id=entry.record.lead.id, tries=failures, error=reason)
        return Verdict.DEAD

    async def _post(self, entry: OutboxEntry) -> tuple[Verdict, str] | None:
        """One POST; None when accepted, else the verdict and a one-line reason."""
        headers = {"Idempotency-Key": entry.idempotency_key}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        body = {"idempotency_key": entry.idempotency_key, "kind": entry.kind.value, "change": entry.record.to_payload()}
        try:
            async with self._session.post(
                self._settings.endpoint,
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s),
            ) as response:
                verdict = verdict_for_status(response.status)
                if verdict is Verdict.DELIVERED:
                    return None
                text = (await response.text(errors="replace"))[:_BODY_EXCERPT_CHARS]
                return verdict, f"HTTP {response.status}: {text}"
        except TimeoutError:
            return Verdict.RETRY, f"timeout after {self._settings.timeout_s} s"
        except aiohttp.ClientError as exc:
            return Verdict.RETRY, f"{type(exc).__name__}: {exc}"
