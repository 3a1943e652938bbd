"""The pure core: every feature's records, states, rules and engines, and the repository protocols.

Nothing here does I/O, sleeps or reads the wall clock: functions take events and times (from the
one injected clock) and return decisions, so the live runner, the simulator and the tests run the
same code. The store imports these models (and nothing above them); the services in the feature
packages (``dialer/campaigns``, ``dialer/leads``, ...) wire them to the store and the PBX. The
import contracts in ``pyproject.toml`` keep it that way.
"""
