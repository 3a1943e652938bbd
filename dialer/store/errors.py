"""The store's errors: the only exceptions a store call lets out.

Callers (services, the CLI, the web face) must not depend on which database sits
underneath: the SQLite driver translates ``sqlite3`` exceptions into these at its
boundary, and the PostgreSQL driver its asyncpg errors (SQLSTATE class 23 is an
IntegrityError; lock timeouts, deadlocks and serialisation failures are StoreBusy). The hierarchy is flat on purpose: callers either handle one specific
case (a duplicate, a busy database) or the store failing as a whole.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked (bad SQL, closed store, disk error, ...)."""


class IntegrityError(StoreError):
    """A write broke a constraint (duplicate key, CHECK, foreign key, NOT NULL): the data was refused."""


class StoreBusy(StoreError):
    """Another process held the database lock for longer than the busy timeout; retrying later may work."""


class MigrationError(StoreError):
    """The schema cannot be brought up to date; the message names the migration file and why."""
