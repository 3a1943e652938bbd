"""The embedded store: the only place that imports aiosqlite and sqlite3.

- :mod:`dialer.store.repositories`: records and Protocols services depend on (no I/O imports).
- :mod:`dialer.store.database`: :class:`~dialer.store.database.Database`, the one writer and the reader pool.
- :mod:`dialer.store.attempts`: the sqlite implementation of the attempt repository.
- :mod:`dialer.store.migrate` and ``migrations/NNNN_name.sql``: the versioned schema.
- :mod:`dialer.store.errors`: the only exceptions that leave the store.
- :mod:`dialer.store.timestamps`: ``to_db`` / ``from_db``, the one text form of an instant.

Nothing is re-exported here on purpose: importing the Protocols must not pull in
aiosqlite, so callers import the submodule they need.
"""
