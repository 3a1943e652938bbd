"""Login throttling: exponential delay after repeated failures, counted three ways so that nobody can
lock someone else out.

* per name *and* address: the full throttle, up to ``login_max_delay_s`` (the lock-out). Guessing
  one account from one place is stopped, and only that place is locked out of that account: a
  stranger typing a colleague's name and wrong passwords no longer locks the colleague out.
* per address, across names: the full throttle too, so one client cannot guess across many
  accounts (behind a reverse proxy this needs ``[web] trusted_proxies``, or every user shares it).
* per name, across addresses: against guessing one account from many places. It only slows: more
  failures are free (``login_name_free_failures``) and its wait stops at ``login_name_max_delay_s``.
  It does not apply at all from an address the name has signed in from before (its known
  addresses, the last few, since the service started), so while someone hammers a name from
  elsewhere its owner still signs in at their desk at once.

Pure: the caller hands in ``now`` (the clock's monotonic seconds). State lives in memory: a restart
forgets it (and the known addresses), which only helps someone who can restart the service anyway.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dialer.settings import WebSettings

# Known addresses remembered per name: an agent's desk, a supervisor's laptop and phone, a spare.
KNOWN_ADDRESSES = 4
# Past this many records, a login sweeps out the ones whose failures are forgiven (a spray of made-up
# names and addresses must not grow memory without end).
_SWEEP_ABOVE = 10_000


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    """How many failures are free inside the window, and how the wait grows after them."""

    free_failures: int
    window_s: float
    base_delay_s: float
    max_delay_s: float

    @classmethod
    def from_settings(cls, web: WebSettings) -> ThrottleRules:
        """The full throttle ``[web]`` configures (per name and address, per address)."""
        return cls(web.login_free_failures, web.login_window_s, web.login_base_delay_s, web.login_max_delay_s)

    @classmethod
    def name_wide(cls, web: WebSettings) -> ThrottleRules:
        """The per-name throttle across addresses: more free failures, a wait that only slows."""
        return cls(web.login_name_free_failures, web.login_window_s, web.login_base_delay_s, web.login_name_max_delay_s)

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: 0, then base, 2*base, 4*base ... up to max."""
        extra = failures - self.free_failures
        if extra <= 0:
            return 0.0
        return min(self.base_delay_s * (1 << min(extra - 1, 62)), self.max_delay_s)


@dataclass(slots=True)
class _Record:
    failures: int
    last_failure: float


class LoginThrottle:
    """Counts failures per name and address, per address and per name; says how long a login must wait."""

    def __init__(self, rules: ThrottleRules, name_rules: ThrottleRules) -> None:
        self._rules = {"pair": rules, "ip": rules, "name": name_rules}
        self._records: dict[tuple[str, str], _Record] = {}
        self._known: dict[str, deque[str]] = {}

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        keys = [("pair", f"{name}\x00{address}"), ("ip", address)]
        if address not in self._known.get(name, ()):
            keys.append(("name", name))
        return keys

    def wait(self, name: str, address: str, now: float) -> float:
        """Seconds until ``name`` may try to sign in from ``address`` again; 0 means now."""
        longest = 0.0
        for key in self._keys(name, address):
            record = self._current(key, now)
            if record is not None:
                longest = max(longest, record.last_failure + self._rules[key[0]].delay(record.failures) - now)
        return max(longest, 0.0)

    def attempt(self, name: str, address: str, now: float) -> float:
        """Start a login: 0 and the attempt is counted as a failure until :meth:`succeeded` says
        otherwise, or the seconds still to wait (nothing counted).

        Counting before the password is checked is what makes the throttle hold against parallel
        guesses: twenty logins sent at once would otherwise all pass the wait, all have their
        password checked (the check takes a while), and only then be counted.
        """
        if len(self._records) > _SWEEP_ABOVE:
            for key in list(self._records):
                self._current(key, now)
        wait = self.wait(name, address, now)
        if wait == 0:
            for key in self._keys(name, address):
                record = self._current(key, now)
                self._records[key] = _Record((record.failures if record else 0) + 1, now)
        return wait

    def succeeded(self, name: str, address: str) -> None:
        """The attempt's password was right: the name's count at this address is cleared, the address's
        and the name's take back the failure :meth:`attempt` counted (and keep the others), and the
        address becomes one of the name's known addresses."""
        for key in self._keys(name, address):
            if key[0] == "pair":
                self._records.pop(key, None)
            elif (record := self._records.get(key)) is not None:
                record.failures = max(0, record.failures - 1)
        known = self._known.setdefault(name, deque(maxlen=KNOWN_ADDRESSES))
        if address in known:
            known.remove(address)
        known.append(address)

    def _current(self, key: tuple[str, str], now: float) -> _Record | None:
        record = self._records.get(key)
        rules = self._rules[key[0]]
        # Failures older than the window, counted from the last one, are forgiven (and forgotten).
        if record is not None and now - record.last_failure > rules.window_s + rules.delay(record.failures):
            del self._records[key]
            return None
        return record
