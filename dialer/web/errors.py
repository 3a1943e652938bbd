"""The web package's errors: what a handler raises to refuse a request in a way the user can act on."""

from __future__ import annotations

from collections.abc import Mapping


class WebError(Exception):
    """Base of the web package's deliberate refusals; carries the HTTP status and a stable code."""

    status = 400

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class BadRequest(WebError):
    """The request is malformed; ``fields`` maps each bad form/query field to why (shown next to it)."""

    status = 400

    def __init__(self, fields: Mapping[str, str], code: str = "invalid") -> None:
        super().__init__(code, "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


class NotFound(WebError):
    """The thing named in the URL does not exist (or the user may not know that it does)."""

    status = 404


class PbxUnavailable(WebError):
    """This console has no PBX link (it was started store-only): nothing that needs the PBX can be done
    through it."""

    status = 503


class Forbidden(WebError):
    """The user's role or identity does not allow this, per dialer.domain.access.policy."""

    status = 403
