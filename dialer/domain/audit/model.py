"""The audit log's rows and their hash chain (docs/audit.md).

The log answers "who did what, when" for the actions a dealer must be able to account for: logins and
their failures, exports, recording plays and downloads, user and suppression-list changes, listen-ins.
It is append-only, and each row carries the SHA-256 of its own content together with the hash of the
row before it, so a row deleted or edited in the database breaks the chain at a row :func:`check_chain`
names. A chain cannot show its own tail cut off; every append is therefore also written to the
structured log (``audit.appended`` with id and hash), a second record kept outside the database.

Pure on purpose: the same encoding is used to write a row and to check it, with no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.timestamps import to_db

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row: there is no row before it."""

SYSTEM = "system"
"""The actor of what the dialer does by itself (a scheduled job, the demo's set-up)."""

# Longest actor or target kept: a failed login's name is whatever the form carried.
MAX_TEXT = 200


def cli_actor(os_user: str) -> str:
    """The actor of a command-line action: the operating-system account that ran ``dialer``."""
    return f"cli:{os_user}"


def concerned_dealer(actor_dealer: int | None, target_dealer: int | None) -> int | None:
    """The dealer an audit row concerns: the acting person's; for a group-wide person, the command line
    or the dialer itself (``actor_dealer`` None) the dealer of the target, where it has one (docs/audit.md)."""
    return target_dealer if actor_dealer is None else actor_dealer


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_TEXT` characters (a hostile login name must not bloat the log)."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class AuditAction(StrEnum):
    """What an audit row records; the value is stored, shown translated (``audit.action.<value>``)."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    EXPORT = "export"  # target: which export (reports.xlsx, doss.xlsx); detail: its period
    RECORDING_PLAY = "recording.play"
    RECORDING_DOWNLOAD = "recording.download"
    RECORDING_RECONCILE = "recording.reconcile"  # reconcile run from the console; detail: what it found, fixed
    USER_ADD = "user.add"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_PASSWORD = "user.password"  # a new password set; every session of the user ended with it
    USER_SESSIONS_END = "user.sessions.end"  # logged out everywhere, nothing else changed
    USER_TOTP_ENROL = "user.totp.enrol"  # an authenticator enrolled (the secret is never in the row)
    USER_TOTP_REMOVE = "user.totp.remove"
    SUPPRESSION_ADD = "suppression.add"  # a number put on the do-not-contact list
    SUPPRESSION_REMOVE = "suppression.remove"
    LISTEN_IN_START = "listen_in.start"
    PHONE_ADD = "phone.add"  # a phone's SIP account created (the password is never in the row)
    PHONE_RESET = "phone.reset"  # a new password generated for a phone
    PHONE_REMOVE = "phone.remove"
    KPI_TARGET_SET = "kpi.target.set"  # target: the month; detail: the KPI, the new target (None: cleared), the old
    CALL_TRANSFER = "call.transfer"  # hold, transfer or 3-way of a call; target: the call id; detail: action, to
    STORE_COPY = "store.copy"  # a dealer's store copied into the group database; target: the dealer; detail: rows


Detail = Mapping[str, str | int | float | bool | None]
"""A row's particulars: flat, JSON-safe, never a secret; phone numbers masked (dialer.phone.mask)."""


def encode_detail(detail: Detail) -> str:
    """The detail as stored: canonical JSON (sorted keys, no spaces), so its hash does not depend on order."""
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Encoding(IntEnum):
    """How a row's hash was made (the row's ``encoding``, migration 0192): what the JSON array holds."""

    PLAIN = 1  # [id, at, actor, action, target, detail, prev_hash]: the rows written before dealers
    DEALER = 2  # the same with dealer_id appended: every row written since, so its dealer is proved too


def row_hash(
    *,
    id: int,
    at: str,
    actor: str,
    action: str,
    target: str,
    detail: str,
    prev_hash: str,
    dealer_id: int | None,
    encoding: Encoding,
) -> str:
    """SHA-256 (hex) over the canonical encoding of a row and the hash of the row before it.

    ``at`` is the stored UTC text (dialer.timestamps.to_db). The encoding is a JSON array of the stored
    values in table order: unambiguous (no separator can be forged inside a field) and reproducible by
    anyone with the table (docs/audit.md shows how). ``encoding`` says whether the array ends with the
    row's dealer: an old row keeps the hash it was written with, a new one also proves its dealer; the
    arrays differ in length, so a row's encoding cannot be changed without its hash showing it.
    """
    fields: list[object] = [id, at, actor, action, target, detail, prev_hash]
    if encoding is Encoding.DEALER:
        fields.append(dealer_id)
    encoded = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


ChainRow = tuple[int, str, str, str, str, str, str, str, int | None, int]
"""A row as stored, in table order: id, at (UTC text), actor, action, target, detail, prev_hash, hash,
dealer_id, encoding."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log, as stored (``detail`` is the canonical JSON text)."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    prev_hash: str
    hash: str
    dealer_id: int | None
    encoding: Encoding

    def detail_dict(self) -> dict[str, Any]:
        """The detail as a mapping (an unreadable one, after tampering, as its raw text)."""
        try:
            loaded = json.loads(self.detail)
        except ValueError:
            return {"raw": self.detail}
        return loaded if isinstance(loaded, dict) else {"raw": self.detail}

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": to_db(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail_dict(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "dealer_id": self.dealer_id,
            "encoding": self.encoding.value,
        }


class BreakKind(StrEnum):
    """How the chain broke at a row."""

    EDITED = "edited"  # the row's content does not give its hash: it was changed after it was written
    LINK = "link"  # the row does not follow the one before it: a row in between was deleted (or rewritten)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row where the chain does not hold, and why."""

    id: int
    kind: BreakKind


_ENCODINGS = frozenset(e.value for e in Encoding)


@dataclass(slots=True)
class ChainCheck:
    """Walks the rows in id order, fed in pages as stored (the walk parses no times), and remembers
    the first break."""

    last_hash: str = GENESIS
    last_id: int = 0
    rows: int = 0
    broken: ChainBreak | None = field(default=None)

    def feed(self, rows: Iterable[ChainRow]) -> None:
        for row_id, at, actor, action, target, detail, prev_hash, stored_hash, dealer_id, encoding in rows:
            self.rows += 1
            if self.broken is None:
                if prev_hash != self.last_hash:
                    self.broken = ChainBreak(row_id, BreakKind.LINK)
                elif encoding not in _ENCODINGS or stored_hash != row_hash(
                    id=row_id, at=at, actor=actor, action=action, target=target, detail=detail,
                    prev_hash=prev_hash, dealer_id=dealer_id, encoding=Encoding(encoding),
                ):  # fmt: skip
                    self.broken = ChainBreak(row_id, BreakKind.EDITED)
            self.last_hash, self.last_id = stored_hash, row_id


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A filter over the log, newest first: every given field must match; ``until`` is exclusive."""

    action: AuditAction | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0
    dealers: DealerScope = EVERY_DEALER  # whose rows: a dealer's people see theirs, never group-level rows


class AuditTrail(Protocol):
    """Where a service records what it did (the audit service implements it; tests may fake it)."""

    async def record(
        self, actor: str, action: AuditAction, target: str, detail: Detail | None = None, *, dealer_id: int | None
    ) -> object:
        """Append one row of ``dealer_id`` (:func:`concerned_dealer`; None: group-level); done when this
        returns (the action must not happen unrecorded)."""
        ...

    async def suppression_changed(
        self, actor: str, number: str, *, added: bool, reason: str, source: str, dealer_id: int
    ) -> object:
        """A number put on or taken off the suppression list (stored masked), the entry's dealer's."""
        ...
