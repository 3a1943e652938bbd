"""Virtual time for asyncio tests: an event loop whose clock is a :class:`~dialer.clock.VirtualClock`.

The services take their "now" from an injected :class:`~dialer.clock.Clock`, but asyncio's timers
(``asyncio.sleep``, ``asyncio.timeout``/``wait_for``, ``loop.call_later``) run on the loop's own
``time()``. :class:`VirtualTimeLoop` makes the two one: ``loop.time()`` *is* ``clock.monotonic()``,
so ``clock.now()`` and every timer move together, whether time is moved by the loop or by a test
calling ``clock.advance()`` (timers that became due then fire on the loop's next turn).

Autojump (as trio's ``MockClock(autojump_threshold=0)``): when nothing is ready to run and the
next timer is some seconds away, the loop advances the clock straight to that timer instead of
sleeping, so a test of a five-minute retry runs in milliseconds and in the same order every time.

The rule that keeps real I/O from being skipped over: the loop only jumps when the world outside
it is quiet, because a jump would fire timeouts before real work had a chance to answer.

- Ready callbacks (the selector is asked with timeout 0): never a jump.
- Work handed to an executor (``loop.run_in_executor``, hence ``asyncio.to_thread`` and DNS
  lookups) is known exactly: while any is unfinished the loop waits for it in real time, blocking
  on the selector, which the executor's completion wakes.
- Anything else (sockets, the self-pipe that ``call_soon_threadsafe`` writes to from other
  threads, such as aiosqlite's worker): the loop first waits up to :data:`QUIET_S` of real time on
  the selector; only if nothing arrives does it jump. Loopback sockets between tasks of this loop
  answer at once. Another thread's answer usually does, but not for certain on a loaded machine, so
  tests whose work runs in such a thread (aiosqlite's worker: every store test) keep real time, as
  do tests that talk to an outside process (Asterisk, SIPp, an SMSC subprocess): they are not marked.

The price: each jump first waits up to :data:`QUIET_S` of real time, so a test that polls every
few milliseconds across many virtual seconds pays that for every poll; await an event instead, or
keep the stretch short.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

from dialer.clock import VirtualClock

# Real seconds the selector must stay silent before the clock may jump: long enough for another
# thread of this process to hand back a result (an aiosqlite query on a local file), short enough
# that a test with a few dozen jumps still runs in well under a second.
QUIET_S = 0.02

_Events = list[tuple[selectors.SelectorKey, int]]
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on ``clock``'s time that jumps to its next timer when idle (see the module)."""

    # BaseEventLoop uses it in _run_once but does not declare it.
    _selector: selectors.BaseSelector

    def __init__(self, clock: VirtualClock, *, quiet_s: float = QUIET_S) -> None:
        super().__init__()
        self.clock = clock
        self._quiet_s = quiet_s
        self._executor_work: set[asyncio.Future[Any]] = set()
        self._real_select = self._selector.select
        # _run_once computes how long to wait for the next timer and hands that to select(): the
        # one place where the loop would otherwise sleep, so the one place to jump instead.
        self._selector.select = self._select  # type: ignore[method-assign]

    def time(self) -> float:
        return self.clock.monotonic()

    def run_in_executor(self, executor: Executor | None, func: Callable[[*_Ts], _T], *args: *_Ts) -> asyncio.Future[_T]:
        """As the base loop, but remembered until done, so no jump happens while a thread works for us."""
        future = super().run_in_executor(executor, func, *args)
        self._executor_work.add(future)
        future.add_done_callback(self._executor_work.discard)
        return future

    def _select(self, timeout: float | None = None) -> _Events:
        if timeout is not None and timeout <= 0:
            return self._real_select(0)  # callbacks are ready: poll I/O, never jump
        if timeout is None or self._executor_work:
            # No timer to jump to, or a thread still working for us: only the outside world can
            # move things on, so wait for it for real (an executor's result wakes the selector).
            return self._real_select(None)
        ready = self._real_select(min(timeout, self._quiet_s))
        if not ready:
            self.clock.advance(timeout)
        return ready


class VirtualTimePolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, except that the next loop it makes after :meth:`arm` runs on that clock.

    pytest-asyncio builds each test's loop through the policy while the test is being set up;
    ``tests/conftest.py`` arms it for tests marked ``virtual_time`` and disarms it afterwards.
    """

    def __init__(self) -> None:
        super().__init__()
        self._armed: VirtualClock | None = None

    def arm(self, clock: VirtualClock | None) -> None:
        """Make the next new loop a :class:`VirtualTimeLoop` on ``clock`` (``None``: an ordinary loop)."""
        self._armed = clock

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        clock, self._armed = self._armed, None
        return super().new_event_loop() if clock is None else VirtualTimeLoop(clock)
