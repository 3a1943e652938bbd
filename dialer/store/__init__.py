"""The store: the only place that imports aiosqlite, sqlite3 and asyncpg (docs/store.md).

- :mod:`dialer.store.database`: :class:`~dialer.store.database.Database`, the one writer and the reader pool,
  over SQLite (:mod:`dialer.store.sqlite`, the embedded default) or PostgreSQL (:mod:`dialer.store.postgres`);
  :mod:`dialer.store.dialect` for the few expressions the two spell differently.
- :mod:`dialer.store.attempts`: the attempt repository
  (:mod:`dialer.domain.calls.attempts` holds the record and the protocol).
- :mod:`dialer.store.migrate` and ``migrations/NNNN_name.sql`` (``migrations_pg/``, their PostgreSQL twins):
  the versioned schema.
- :mod:`dialer.store.errors`: the only exceptions that leave the store.

It imports the models of ``dialer.domain`` and nothing above them.
"""
