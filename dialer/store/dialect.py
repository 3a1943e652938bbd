"""The few SQL expressions SQLite and PostgreSQL spell differently, named once for every repository.

Repositories write one SQL text for both databases: ``?`` placeholders (translated by the
PostgreSQL driver), ``INSERT ... ON CONFLICT DO NOTHING``, ``IS DISTINCT FROM``, ``CASE`` instead
of summing booleans. What has no common spelling comes from ``db.dialect``, chosen by the backend:

- a text field of a JSON column (``json_extract`` in SQLite, ``->>`` on PostgreSQL's ``jsonb``),
  and the same field compared as an integer;
- the seconds between two stored instants (text in the store's UTC form,
  :mod:`dialer.timestamps`), to the millisecond;
- a comma-separated list of ids collected by ``GROUP BY``;
- a JSON value with some keys removed, or some paths' values replaced where they exist (an erasure);
- a ``LIKE`` that ignores case, as SQLite's does (for ASCII letters) and PostgreSQL's does not.

``lead_phones.rowid`` needs no helper: SQLite's implicit rowid (insertion order) is an explicit
identity column of that name in the PostgreSQL schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Only plain names reach these helpers (they are written in repositories, never taken from input);
# checking keeps a typo from turning into a malformed statement far from its cause.
_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def _checked(*names: str) -> None:
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a column or JSON key name: {name!r}")


@dataclass(frozen=True, slots=True)
class Dialect:
    """One database's spelling of the expressions above; ``name`` is ``sqlite`` or ``postgresql``."""

    name: str

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    @property
    def like(self) -> str:
        """The case-insensitive ``LIKE`` operator: SQLite's ``LIKE`` folds ASCII letters, PostgreSQL's
        ``ILIKE`` every letter (a search typed in lower case finds "SMS TD" on both)."""
        return "ILIKE" if self.is_postgresql else "LIKE"

    def json_text(self, column: str, key: str) -> str:
        """The top-level ``key`` of the JSON in ``column``, as text (NULL when absent)."""
        _checked(column, key)
        return f"({column} ->> '{key}')" if self.is_postgresql else f"json_extract({column}, '$.{key}')"

    def json_int(self, column: str, key: str) -> str:
        """The top-level ``key`` of the JSON in ``column``, as an integer (NULL when absent)."""
        _checked(column, key)
        return f"({column} ->> '{key}')::bigint" if self.is_postgresql else f"json_extract({column}, '$.{key}')"

    def json_without(self, column: str, keys: Sequence[str]) -> str:
        """The JSON in ``column`` without the top-level ``keys`` (absent keys are no error)."""
        _checked(column, *keys)
        if self.is_postgresql:
            quoted = ", ".join(f"'{key}'" for key in keys)
            return f"({column} - ARRAY[{quoted}]::text[])"
        return "json_remove({}, {})".format(column, ", ".join(f"'$.{key}'" for key in keys))

    def json_replaced(self, column: str, values: Mapping[str, str | None]) -> str:
        """The JSON in ``column`` with each dotted path that exists set to a text value (an SQL
        expression, e.g. a placeholder) or to JSON null (``None``); a missing path stays missing."""
        _checked(column, *values)
        if self.is_postgresql:
            # jsonb_set with create_if_missing false is json_replace; nested in path order, so
            # placeholders keep the order they have in SQLite's spelling.
            out = column
            for path, value in values.items():
                new = "'null'::jsonb" if value is None else f"to_jsonb(CAST({value} AS text))"
                out = f"jsonb_set({out}, '{{{path.replace('.', ',')}}}', {new}, false)"
            return out
        pairs = ", ".join(f"'$.{path}', {'NULL' if value is None else value}" for path, value in values.items())
        return f"json_replace({column}, {pairs})"

    def seconds_between(self, later: str, earlier: str) -> str:
        """Seconds from ``earlier`` to ``later`` (stored instants), a double rounded to the millisecond."""
        _checked(later, earlier)
        if self.is_postgresql:
            return f"round(extract(epoch from ({later}::timestamptz - {earlier}::timestamptz)), 3)::double precision"
        # julianday() is a double of days, off by some microseconds in seconds: rounded to the stored milliseconds.
        return f"round((julianday({later}) - julianday({earlier})) * 86400.0, 3)"

    def id_list(self, column: str) -> str:
        """An aggregate: the group's ``column`` values as ``"3,7,12"``, ascending."""
        _checked(column)
        if self.is_postgresql:
            return f"string_agg({column}::text, ',' ORDER BY {column})"
        # SQLite's group_concat has no ORDER BY before 3.44: callers feed it rows already in order.
        return f"group_concat({column})"


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")
