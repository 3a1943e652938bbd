"""The embedded store: the only place that imports aiosqlite and sqlite3.

- :mod:`dialer.store.database`: :class:`~dialer.store.database.Database`, the one writer and the reader pool.
- :mod:`dialer.store.attempts`: the sqlite implementation of the attempt repository
  (:mod:`dialer.domain.calls.attempts` holds the record and the protocol).
- :mod:`dialer.store.migrate` and ``migrations/NNNN_name.sql``: the versioned schema.
- :mod:`dialer.store.errors`: the only exceptions that leave the store.

It imports the models of ``dialer.domain`` and nothing above them.
"""
