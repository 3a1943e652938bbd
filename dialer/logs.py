"""Structured logs: JSON off a terminal, numbers masked, secrets never written.

Call sites bind ids (``call_id``, ``lead_id``, ``attempt_id``) with
``structlog.contextvars.bound_contextvars`` at the top of each call's task; the
processors here make sure no phone number or secret leaves the process in clear,
whatever a call site passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from dialer.phone import mask

_SECRET_KEYS = re.compile(r"secret|password|passwd|token|authorization|api[_-]?key|cookie", re.IGNORECASE)
_PHONE_KEYS = re.compile(
    r"^(number|phone|phones|caller|callerid|caller_id|to|from|msisdn|dialed|exten|connected_line_num|calleridnum)$",
    re.IGNORECASE,
)
# Seven or more digits, optionally with a leading + : long enough to be a phone number,
# short enough that ids like "attempt 42" survive. Not a run inside a longer token of letters and
# digits: a call id (32 hex digits) masked in its middle can no longer be searched for in the log.
_DIGITS = re.compile(r"(?<![0-9A-Za-z])\+?\d{7,}(?![0-9A-Za-z])")
# "Secret: x" inside free text, e.g. an AMI login action echoed by a library logger.
_INLINE_SECRET = re.compile(r"((?:secret|password|token)\s*[:=]\s*)\S+", re.IGNORECASE)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        value = _INLINE_SECRET.sub(r"\1***", value)
        return _DIGITS.sub(lambda m: mask(m.group(0)), value)
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _scrub_pair(k, v) for k, v in value.items()}
    return value


def _scrub_pair(key: Any, value: Any) -> Any:
    k = str(key)
    if _SECRET_KEYS.search(k):
        return "***"
    if _PHONE_KEYS.match(k) and value is not None:
        return mask(str(value))
    return _scrub_value(value)


def scrub(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask phone numbers and blank secrets in every field."""
    for key in list(event_dict):
        if key in ("timestamp", "level", "logger"):
            continue
        event_dict[key] = _scrub_pair(key, event_dict[key])
    return event_dict


class _CurrentStderr(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is when a record is written, not when logging was set up:
    a test harness (or a daemon) that swaps and closes stderr must not leave logging writing to a
    closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # StreamHandler.__init__ assigns one; the current stderr is always used


def configure(level: str = "info", json: bool | None = None, stream: Any = None) -> None:
    """Set up structlog and route stdlib loggers (aiohttp, panoramisk) through it (to stderr unless ``stream``)."""
    if json is None:
        json = not (stream or sys.stderr).isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrub,
    ]
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        # A call below the level stops here, before the time stamp and the scrubbing: otherwise every
        # info line of a call costs its processing even at level "warning" (7 % of the dialer's main
        # thread at 200 calls at once in bench/agent_connect.py, docs/bench.md).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = _CurrentStderr() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named after its module."""
    return structlog.stdlib.get_logger(name)
