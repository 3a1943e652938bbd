"""Login throttling: exponential delay after repeated failures, per user name and per client address.

Pure: the caller hands in ``now`` (the clock's monotonic seconds). Throttling the address as well
as the name stops one client from guessing across many accounts, and throttling the name stops
many clients from guessing one account. State lives in memory: a restart forgets it, which only
helps someone who can restart the service anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialer.settings import WebSettings


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    """How many failures are free inside the window, and how the wait grows after them."""

    free_failures: int
    window_s: float
    base_delay_s: float
    max_delay_s: float

    @classmethod
    def from_settings(cls, web: WebSettings) -> ThrottleRules:
        """The rules ``[web]`` configures."""
        return cls(web.login_free_failures, web.login_window_s, web.login_base_delay_s, web.login_max_delay_s)

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: 0, then base, 2*base, 4*base ... up to max."""
        extra = failures - self.free_failures
        if extra <= 0:
            return 0.0
        return min(self.base_delay_s * (1 << (extra - 1)), self.max_delay_s)


@dataclass(slots=True)
class _Record:
    failures: int
    last_failure: float


class LoginThrottle:
    """Counts failures per key (``user:NAME``, ``ip:ADDR``) and says how long a key must still wait."""

    def __init__(self, rules: ThrottleRules) -> None:
        self._rules = rules
        self._records: dict[str, _Record] = {}

    def wait(self, keys: Iterable[str], now: float) -> float:
        """Seconds until a login for these keys may be tried again; 0 means now."""
        longest = 0.0
        for key in keys:
            record = self._current(key, now)
            if record is not None:
                longest = max(longest, record.last_failure + self._rules.delay(record.failures) - now)
        return max(longest, 0.0)

    def attempt(self, keys: Sequence[str], now: float) -> float:
        """Start a login: 0 and the attempt is counted as a failure until :meth:`succeeded` says
        otherwise, or the seconds still to wait (nothing counted).

        Counting before the password is checked is what makes the throttle hold against parallel
        guesses: twenty logins sent at once would otherwise all pass the wait, all have their
        password checked (the check takes a while), and only then be counted.
        """
        wait = self.wait(keys, now)
        if wait == 0:
            self.failed(keys, now)
        return wait

    def failed(self, keys: Iterable[str], now: float) -> None:
        """One more failure for each key."""
        for key in keys:
            record = self._current(key, now)
            self._records[key] = _Record((record.failures if record else 0) + 1, now)

    def succeeded(self, keys: Sequence[str]) -> None:
        """The attempt's password was right: the user's key (the first) is cleared; the others (the
        address) take back the failure :meth:`attempt` counted and keep their count of other failures."""
        user, *others = keys
        self._records.pop(user, None)
        for key in others:
            record = self._records.get(key)
            if record is not None:
                record.failures = max(0, record.failures - 1)

    def _current(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        # Failures older than the window, counted from the last one, are forgiven (and forgotten).
        if record is not None and now - record.last_failure > self._rules.window_s + self._rules.delay(record.failures):
            del self._records[key]
            return None
        return record
